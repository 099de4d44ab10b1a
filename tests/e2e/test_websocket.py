"""WebSocket faults against the real clients: k6 (``k6/ws`` and
``k6/experimental/websockets``) and Python's ``websockets``, on ws:// and wss://.

Per fault and client, what the script saw (the upgrade status, the messages, the
error text, the close code) must be what the session's report record says: one
``"record": "websocket"`` per session (a refused upgrade: a flow record). The
upstream sends m1..m5, 50 ms apart, and echoes; k6 closes its side after 2 s.
Python sessions run with an unfaulted sibling session in flight, which must see
all five messages and a clean close.
"""

import asyncio
import ssl
from pathlib import Path

import pytest

from faults.tools import k6run

from .waiting import any_record, records_by_case

SCRIPT = (Path(__file__).parent / "k6_ws.js").read_text()
FAULTS = [
    None,
    "ws_close code=4000 reason=bye after_messages=2",
    "ws_close code=1000",
    "ws_close code=1001 after_messages=1",
    "ws_close code=1005",
    "ws_close code=1008 reason=policy",
    "ws_close code=1011 reason=oops after_messages=3",
    "ws_close code=4000 match=m3",
    "ws_drop after_messages=1",
    "ws_drop how=rst after_messages=2",
    "ws_corrupt frame=bad_opcode after_messages=1",
    "ws_corrupt frame=masked",
    "ws_corrupt frame=invalid_utf8 after_messages=1",
    "ws_stall after_messages=2",
    "ws_delay ms=150",
]
UPGRADE = ["status code=403", "status code=503", "hang ms=500"]
SCHEMES = ("ws", "wss")


@pytest.fixture(scope="module")
def wsproxy(proxy):
    """conftest's reverse proxy (x-fault headers on, a report, no traceback at the end)."""
    return proxy


def _case_id(mod, scheme, i):
    return f"{mod}-{scheme}-{i}"


@pytest.fixture(scope="module")
def k6_outcomes(wsproxy):
    cases = []
    for scheme in SCHEMES:
        for i, f in enumerate(FAULTS + UPGRADE):
            for mod in ("ws", "experimental"):
                cid = _case_id(mod, scheme, i)
                cases.append({"id": cid, "mod": mod, "headers": {"x-fault": f} if f else {},
                              "url": f"{scheme}://demo.test:{wsproxy.port}/ws?msgs=5&gap=50&case={cid}"})
    got = k6run.run(cases, script=SCRIPT, hosts={"demo.test": "127.0.0.1"},
                    env={"SSL_CERT_FILE": str(wsproxy.ca_file)})
    return got, records_by_case(wsproxy, got, any_record)  # one record a session (a refused upgrade: a flow)


def _one(recs):
    assert recs and len(recs) == 1, recs
    return recs[0]


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("index", range(len(FAULTS)), ids=[f or "no-fault" for f in FAULTS])
def test_k6_sees_what_the_websocket_record_says(k6_outcomes, scheme, index):
    got, recs = k6_outcomes
    fault = FAULTS[index]
    for mod in ("ws", "experimental"):
        cid = _case_id(mod, scheme, index)
        k6, rec = got[cid], _one(recs.get(cid))
        assert rec["record"] == "websocket" and rec["fault"] == fault and rec["status"] == 101, rec
        assert k6["status"] == rec["status"], (mod, k6)
        k6_report = rec["clients"]["k6"]
        error = k6_report.get("experimental", {}).get("error", rec["ws_error"]) if mod == "experimental" \
            else rec["ws_error"]
        if error:
            assert len(k6["errors"]) == 1 and k6["errors"][0].endswith(error), (mod, k6, error)
        else:
            assert k6["errors"] == [], (mod, k6)
        # experimental's close event carries no code
        assert k6["close"] == (rec["ws_close_code"] if mod == "ws" else None), (mod, k6, rec["ws_close_code"])
        extra = 1 if fault and "invalid_utf8" in fault else 0  # the bad frame arrives as a message
        assert len(k6["msgs"]) == rec["messages_to_client"] + extra, (mod, k6["msgs"], rec["messages_to_client"])
        if extra:
            assert k6["msgs"][-1] == "\ufffd\ufffd"  # k6 does not check UTF-8


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("index", range(len(UPGRADE)), ids=UPGRADE)
def test_upgrade_faults_are_flow_records(k6_outcomes, scheme, index):
    got, recs = k6_outcomes
    i = len(FAULTS) + index
    rec = _one(recs.get(_case_id("ws", scheme, i)))
    assert rec["record"] == "flow" and rec["fault"] == UPGRADE[index]
    legacy, exp = got[_case_id("ws", scheme, i)], got[_case_id("experimental", scheme, i)]
    # k6/ws: the status (0 when no answer came), no events; experimental: a handshake error
    assert legacy["status"] == (rec["status"] or 0) and legacy["errors"] == [] and legacy["close"] is None
    assert exp["status"] is None and len(exp["errors"]) == 1
    expected = "websocket: bad handshake" if rec["status"] else "unexpected EOF"
    assert exp["errors"][0] == expected, exp


# -- Python websockets -------------------------------------------------------------
async def _session(url, headers, ssl_ctx, wait=1.5):
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    got = []
    kw = {"ssl": ssl_ctx, "server_hostname": "demo.test"} if ssl_ctx else {}
    try:
        async with connect(url, additional_headers=headers, open_timeout=5, close_timeout=2, **kw) as ws:
            while True:
                got.append(await asyncio.wait_for(ws.recv(), wait))
    except ConnectionClosed as e:
        return got, type(e).__name__, str(e)
    except TimeoutError as e:
        return got, "TimeoutError", str(e)
    except Exception as e:  # a refused upgrade
        return got, type(e).__name__, str(e)


@pytest.fixture(scope="module")
def py_outcomes(wsproxy):
    ctx = ssl.create_default_context(cafile=str(wsproxy.ca_file))

    async def main():
        out = {}
        for scheme in SCHEMES:
            for i, f in enumerate(FAULTS):
                cid = _case_id("py", scheme, i)
                base = f"{scheme}://127.0.0.1:{wsproxy.port}/ws?msgs=5&gap=50&close=1000"
                tls = ctx if scheme == "wss" else None
                out[cid], out[cid + "-sib"] = await asyncio.gather(
                    _session(f"{base}&case={cid}", {"x-fault": f} if f else {}, tls),
                    _session(f"{base}&case={cid}-sib", {}, tls))
            for i, f in enumerate(UPGRADE):
                cid = _case_id("py-up", scheme, i)
                out[cid] = await _session(f"{scheme}://127.0.0.1:{wsproxy.port}/ws?msgs=5&case={cid}",
                                          {"x-fault": f}, ctx if scheme == "wss" else None)
        return out

    got = asyncio.run(main())
    return got, records_by_case(wsproxy, got, any_record)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("index", range(len(FAULTS)), ids=[f or "no-fault" for f in FAULTS])
def test_python_websockets_sees_what_the_record_says(py_outcomes, scheme, index):
    got, recs = py_outcomes
    cid = _case_id("py", scheme, index)
    msgs, exc, text = got[cid]
    rec = _one(recs.get(cid))
    assert rec["fault"] == FAULTS[index]
    py = rec["clients"]["websockets"]
    assert exc == py["error"], (exc, text, py)
    if exc != "TimeoutError":
        assert text == py["message"], (text, py)
    assert len(msgs) == rec["messages_to_client"], (msgs, rec["messages_to_client"])  # websockets checks UTF-8
    # the sibling session in flight is untouched
    sib = got[cid + "-sib"]
    assert sib == (["m1", "m2", "m3", "m4", "m5"], "ConnectionClosedOK",
                   "received 1000 (OK) upstream done; then sent 1000 (OK) upstream done"), sib
    sib_rec = _one(recs.get(cid + "-sib"))
    assert sib_rec["fault"] is None and sib_rec["ws_close_code"] == 1000 and sib_rec["ws_error"] == ""


@pytest.mark.parametrize("scheme", SCHEMES)
def test_python_websockets_on_refused_upgrades(py_outcomes, scheme):
    got, recs = py_outcomes
    seen = [got[_case_id("py-up", scheme, i)][1:] for i in range(len(UPGRADE))]
    assert seen == [("InvalidStatus", "server rejected WebSocket connection: HTTP 403"),
                    ("InvalidStatus", "server rejected WebSocket connection: HTTP 503"),
                    ("InvalidMessage", "did not receive a valid HTTP response")], seen
    assert [_one(recs.get(_case_id("py-up", scheme, i)))["status"] for i in range(len(UPGRADE))] == [403, 503, None]


def test_k6_through_a_regular_proxy_gets_the_close_frame(tmp_path):
    """wss:// through HTTPS_PROXY: the session runs in the CONNECT tunnel's own HTTP layer
    (faults.wire.stack), where the fault's close frame goes out as in reverse mode."""
    from faults import report
    from faults.tools.launch import ProxyProcess
    from faults.tools.upstream import Upstream

    rep = tmp_path / "r.jsonl"
    opts = {"fault_header": True, "fault_report": str(rep), "ssl_insecure": True,
            "map_remote": "|//demo.test:|//127.0.0.1:"}  # Go never proxies localhost
    with Upstream(tls=True) as up, ProxyProcess(mode="regular", options=opts) as px:
        cases = [{"id": "reg", "mod": "ws", "headers": {"x-fault": "ws_close code=4001 after_messages=1"},
                  "url": f"wss://demo.test:{up.port}/ws?msgs=5&gap=50"}]
        got = k6run.run(cases, script=SCRIPT, env={"HTTPS_PROXY": px.url, "SSL_CERT_FILE": str(px.ca_file)})
    (rec,) = [r for r in report.read(rep) if r["record"] == "websocket"]
    assert got["reg"]["close"] == rec["clients"]["k6"]["close_code"] == 4001, (got, rec)
    assert got["reg"]["errors"] == [rec["clients"]["k6"]["message"]] == ["websocket: close 4001"]
