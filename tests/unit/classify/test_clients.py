"""Option fault_clients: which client profiles a flow's metadata, report and comment show."""

import asyncio

import pytest
from mitmproxy import exceptions
from mitmproxy.test import tflow

from faults.classify import clients as profiles

from ..addons.test_injector import make, through


def test_default_is_every_profile():
    with make(faults=["|~u /r|reset when=before_response"])[0] as tctx:
        inj, cls = tctx.master.addons.chain[-2], tctx.master.addons.chain[-1]
        f = asyncio.run(through(inj, cls, tflow.tflow()))
        assert {"k6", "node", "requests", "aiohttp", "java"} <= set(f.metadata["clients"])
        assert " | " not in f.comment  # the comment stays k6's


def test_a_selection_narrows_the_metadata_and_names_the_chosen_in_the_comment():
    with make(faults=["|~u /|reset when=before_response"])[0] as tctx:
        inj, cls = tctx.master.addons.chain[-2], tctx.master.addons.chain[-1]
        tctx.configure(cls, fault_clients=["node", "java"])
        f = asyncio.run(through(inj, cls, tflow.tflow()))
        assert set(f.metadata["clients"]) == {"node", "java"}
        assert f.metadata["k6_error_code"] == 1220  # k6's annotation stays
        assert f.metadata["clients"]["node"]["error"] == "ECONNRESET"
        assert f.comment.endswith("| node ECONNRESET | java IOException (re-sent 1x)"), f.comment


def test_an_unknown_profile_is_refused_with_a_did_you_mean():
    with make()[0] as tctx:
        cls = tctx.master.addons.chain[-1]
        cls.running()  # at start the same error is one logged line (faults.addons.startup.one_line_at_start)
        with pytest.raises(exceptions.OptionsError, match="unknown client profile 'nodejs': did you mean node"):
            tctx.configure(cls, fault_clients=["nodejs"])
        assert cls.shown == profiles.NAMES  # the old selection stays


def test_the_option_is_settable_as_mitmproxy_parses_set():
    """``--set fault_clients=node`` on the command line: mitmproxy parses it only for
    collections.abc.Sequence[str] (typing.Sequence gave a traceback at start)."""
    with make()[0] as tctx:
        cls = tctx.master.addons.chain[-1]
        tctx.master.options.set("fault_clients=node", "fault_clients=java")
        assert cls.shown == ("node", "java")


# -- predictions re-measured against the real clients (issue 25; tests/e2e/test_client_races.py) --
from faults.classify.clients import chromium, k6, node  # noqa: E402
from faults.classify.outcome import Outcome  # noqa: E402


def test_k6_names_both_texts_of_a_fin_during_an_http2_upload():
    r = k6.report(Outcome("tcp.fin", "network.tcp.closed", facts={"phase": "mid_request", "protocol": "HTTP/2.0"}))
    assert (r.error, r.message, r.certainty) == (1000, "unexpected EOF", "uncertain")
    assert r.alt == [{"error": 1000, "message": "http2: client conn is closed"}]


def test_node_predicts_a_cancel_stream_reset_over_http2():
    after = node.report(Outcome("h2.rst_stream", "http2.stream.cancel",
                                facts={"code": 0x8, "phase": "after_headers", "protocol": "HTTP/2.0", "status": 200}))
    assert (after.error, after.extra["status"], after.certainty) == ("ok", 200, "exact")
    before = node.report(Outcome("h2.rst_stream", "http2.stream.cancel",
                                 facts={"code": 0x8, "phase": "before_response", "protocol": "HTTP/2.0"}))
    assert before.error == "TimeoutError" and before.certainty == "likely"


def test_chromium_names_the_abort_of_a_hang_and_every_resend_count_seen():
    hang = chromium.report(Outcome("client.gave_up", "client.timeout", facts={"protocol": "HTTP/1.1"}))
    assert hang.error == "timeout" and hang.certainty == "uncertain"
    assert [a["error"] for a in hang.alt] == ["net::ERR_ABORTED"]
    assert hang.extra["fetch"]["alt"] == [{"error": "net::ERR_ABORTED", "message": ""}]
    for ev, error in (("tcp.rst", "net::ERR_CONNECTION_RESET"), ("tcp.fin", "net::ERR_EMPTY_RESPONSE")):
        r = chromium.report(Outcome(ev, "x", facts={"phase": "before_response", "protocol": "HTTP/1.1"}))
        # the count seen most, every other count seen as a racing reading with the same error
        assert (r.error, r.retried, r.resent(), r.certainty) == (error, 2, "0/1/2/3", "uncertain")
        assert {a["error"] for a in r.alt} == {error}
    assert chromium.report(Outcome("tls.rst", "x", facts={})).resent() == "1/3/5/7"
    assert chromium.report(Outcome("tls.plaintext", "x", facts={})).resent() == "3/5/7"
    assert chromium.report(Outcome("tls.bad_cert", "x", facts={"cert": "expired"})).resent() == "1/2"
    refused = chromium.report(Outcome("h2.rst_stream", "x", facts={"code": 7, "protocol": "HTTP/2.0"}))
    assert (refused.resent(), refused.certainty) == ("2", "exact")  # 12 of 12


# -- a held HTTP/2 stream a sibling's fault cut: the client's own timeout races that end ---------
def _held(version="HTTP/2.0", sibling_end=True, held=True):
    """A flow its hang held until its connection went (the hold saw the client gone), classified
    after ``faults.wire.collateral`` copied in the end another flow's fault gave the connection."""
    from faults import vocabulary
    from faults.classify import classify
    from faults.wire import ends
    from faults.wire.collateral import collateral

    flow = tflow.tflow()
    flow.response = None
    flow.request.http_version = version
    if held:
        flow.metadata[vocabulary.WIRE] = {"phase": "before_response", "held_ms": 280, "hold_end": "client_gone",
                                          "client_gave_up": True}
    if sibling_end:
        ends.mark(flow.client_conn.id, "sibling", conn_end="rst")
    try:
        collateral(flow)
    finally:
        ends.forget(flow.client_conn.id)
    return classify(flow)


def _named(r) -> list:
    return [(r.error, r.message)] + [(a["error"], a["message"]) for a in r.alt]


def test_a_held_http2_stream_a_sibling_cut_names_the_reset_and_the_clients_own_timeout():
    c = _held()
    assert c.outcome.held_cut_by_sibling
    k6_ = c.clients["k6"]
    assert (k6_.certainty, _named(k6_)) == ("uncertain", [(1220, "read: connection reset by peer"),
                                                          (1050, "request timeout")])
    assert "own timeout may have fired first" in k6_.note
    assert c.entry == "network.tcp.reset_by_peer"  # the annotation stays what the proxy saw
    # every HTTP/2 client that times out a held stream races alike: each names its own timeout
    assert ("TimeoutError", "aborted due to timeout") in _named(c.clients["node"])
    assert ("HttpTimeoutException", "request timed out") in _named(c.clients["java"])
    assert ("ReadTimeout", "") in _named(c.clients["httpx"])


@pytest.mark.parametrize("case", ["plain hang", "not held", "HTTP/1.1"])
def test_outside_that_race_one_outcome_is_named(case):
    c = {"plain hang": lambda: _held(sibling_end=False), "not held": lambda: _held(held=False),
         "HTTP/1.1": lambda: _held("HTTP/1.1")}[case]()
    assert not c.outcome.held_cut_by_sibling
    k6_ = c.clients["k6"]
    assert k6_.alt == [] and "may have fired first" not in k6_.note
    # a plain hang: k6's own timeout; a stream no fault held, or HTTP/1.1 (one request a connection): the reset
    assert k6_.error == (1050 if case == "plain hang" else 1220)


# -- the other side: the flow whose reset cut a held stream ---------------------------------------
def _culprit(version="HTTP/2.0", cut=True, event="tcp.rst"):
    facts = {"protocol": version, "phase": "before_response", "conn_end": "rst" if event == "tcp.rst" else "fin"}
    if cut:
        facts["cut_held"] = ["held-flow"]
    return Outcome(event, "network.tcp.reset_by_peer", facts=facts)


def test_a_reset_that_cut_a_held_stream_names_gos_force_close_for_k6():
    o = _culprit()
    assert o.cut_held_sibling
    r = k6.report(o)
    assert (r.certainty, _named(r)) == ("uncertain", [(1220, "read: connection reset by peer"),
                                                      (1000, "http2: client connection force closed via ClientConn.Close")])
    assert "cancel" in r.note
    assert profiles.report_all(o)["node"].alt == []  # measured with k6 only: other profiles keep one outcome


@pytest.mark.parametrize("case", ["plain reset", "HTTP/1.1", "fin"])
def test_outside_the_cut_the_end_keeps_one_outcome(case):
    o = {"plain reset": lambda: _culprit(cut=False), "HTTP/1.1": lambda: _culprit("HTTP/1.1"),
         "fin": lambda: _culprit(event="tcp.fin")}[case]()
    assert o.cut_held_sibling == (case == "fin")  # a FIN cuts too; k6 was measured on the reset only
    r = k6.report(o)
    assert r.alt == [] and r.certainty == "exact", r


def test_chromium_re_sends_a_request_whose_connection_it_closed_itself():
    from faults.classify import h3

    o = h3.client_close({"code": 0xA, "frame_type": 0, "reason": ""})
    o.facts["protocol"] = "HTTP/3"
    r = chromium.report(o)
    assert (r.error, r.certainty, r.retried) == ("ok", "likely", 1), r
