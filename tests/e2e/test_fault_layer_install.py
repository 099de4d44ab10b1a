"""The frame-capable HTTP layer is installed per connection only where something may
need it (faults.wire.h2layer.H2Frames): a connection opened while no rule existed
still gets its HTTP/2 frame faults, through a real mitmdump and a real HTTP/2 client,
when an ``x-fault`` header selects one of its flows, and when a plan reload adds a rule
that selects its next request by the name the client sent (reverse mode rewrites it)."""

import h2.events
import httpx
import pytest

from faults.tools.launch import ProxyProcess

from .waiting import wait_connections_closed, wait_for_records, wait_until

NAME = "lazy.test"  # the name the client sends; the upstream is 127.0.0.1


@pytest.fixture(scope="module")
def px(upstream, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("layer")
    plan, rep = tmp / "plan.yaml", tmp / "report.jsonl"
    plan.write_text("rules: []\n")
    p = ProxyProcess(mode=f"reverse:{upstream.url}",
                     options={"fault_plan": str(plan), "fault_header": True, "fault_report": str(rep),
                              "fault_prefer_h2": True})  # httpx offers http/1.1 first
    p.plan, p.report_path = plan, rep
    with p:
        yield p
    assert "Traceback" not in p.log(), p.log()[-3000:]


def client():
    return httpx.Client(http2=True, verify=False, timeout=5)


def get(c, px, marker: str, host: str = NAME, **headers):
    return c.get(f"https://127.0.0.1:{px.port}/l?m={marker}", headers={"host": host, **headers})


def reset_code(c, px, marker: str, **headers) -> int:
    """The error code of the RST_STREAM the client got for this request."""
    with pytest.raises(httpx.RemoteProtocolError) as e:
        get(c, px, marker, **headers)
    err = e.value  # httpx's error, from httpcore's, whose argument is h2's StreamReset event
    while err is not None and not (err.args and isinstance(err.args[0], h2.events.StreamReset)):
        err = err.__context__
    assert err is not None, repr(e.value)
    return int(err.args[0].error_code)


def records(px, marker: str, n: int = 1) -> list[dict]:
    """The records of ``marker``'s requests, once the clients' connections are closed (every
    flow on them finished) and ``n`` are there."""
    wait_connections_closed(px)
    mine = lambda recs: [r for r in recs if f"m={marker}" in (r.get("url") or "")]  # noqa: E731
    return mine(wait_for_records(px.report_path, lambda recs: len(mine(recs)) >= n, f"{n} records of m={marker}"))


def test_a_connection_without_the_layer_gets_frame_faults_when_selected(px):
    with client() as c1, client() as c2:
        # both connections open while no rule exists: no layer at their start
        assert get(c1, px, "a1").http_version == "HTTP/2"
        assert get(c2, px, "b1").status_code == 200
        # an x-fault header selects a flow on c1: its connection gets the layer then
        assert reset_code(c1, px, "a2", **{"x-fault": "rst_stream code=7"}) == 7
        assert get(c1, px, "a3").status_code == 200  # the same connection goes on
        # a plan reload adds a rule on the name the client sent (reverse mode rewrites
        # it before any hook): the open connection c2 gets the layer at the change
        px.plan.write_text(f"rules:\n  - {{match: '~d ^{NAME}$', fault: 'rst_stream code=11'}}\n")
        wait_until(lambda: "fault plan reloaded" in px.log(), 10, "the plan's reload", seen=lambda: px.log()[-2000:])
        assert reset_code(c2, px, "b2") == 11
        # never to a flow the rule does not select, on a connection opened after it
        with client() as c3:
            assert get(c3, px, "c1", host="other.test").status_code == 200
    (b2,) = records(px, "b2")
    assert b2["facts"]["reused_connection"] is True and b2["fault"]  # c2's second request, faulted
    assert [r["fault"] for r in records(px, "c1")] == [None]
    assert [r["fault"] for r in records(px, "a3")] == [None]
