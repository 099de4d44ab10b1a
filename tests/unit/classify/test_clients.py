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
    for ev, error, span in (("tcp.rst", "net::ERR_CONNECTION_RESET", [0, 2]),
                            ("tcp.fin", "net::ERR_EMPTY_RESPONSE", [1, 2])):
        r = chromium.report(Outcome(ev, "x", facts={"phase": "before_response", "protocol": "HTTP/1.1"}))
        assert (r.error, r.retried, r.extra["retried_range"]) == (error, 2, span)
    assert chromium.report(Outcome("tls.rst", "x", facts={})).extra["retried_range"] == [1, 7]
    assert chromium.report(Outcome("tls.plaintext", "x", facts={})).extra["retried_range"] == [3, 7]
    assert chromium.report(Outcome("tls.bad_cert", "x", facts={"cert": "expired"})).extra["retried_range"] == [1, 2]
