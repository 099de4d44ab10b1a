"""Server-sent events and streamed bodies against the real clients: k6 (its
error_code, error and the events in res.body) and httpx streaming (the exception
and the events it read first), over HTTP/1.1 and HTTP/2.

The upstream sends 10 events, 50 ms apart, chunked. A fault with after_events=3
must let exactly three whole events reach the client before it acts (the proxy
streams the response through), and the report's record must say what the client
reported. Each faulted request runs with an unfaulted sibling SSE request in
flight on its own connection, which must get all ten events.
"""

import asyncio
import ssl
from pathlib import Path

import httpx
import pytest

from faults.tools import k6run

from .conftest import final_record
from .waiting import any_record, records_by_case, reported

SCRIPT = (Path(__file__).parent / "k6_sse.js").read_text()
FAULTS = [
    None,
    "reset after_events=3",
    "close after_events=3",
    "reset after_events=3 scope=stream",
    "rst_stream after_events=3",
    "rst_stream code=CANCEL after_events=2",
    "close after_bytes=40",
    "close when=before_response",
    "stall after_events=3",
    "stall after_events=3 ms=400",
    "goaway code=INTERNAL_ERROR after_events=3",
    "hang after_events=3",
]
PROTOS = ("h1", "h2")
ALL = 10


class H2First(ssl.SSLContext):
    def set_alpn_protocols(self, protocols):
        super().set_alpn_protocols(sorted(protocols, key=lambda p: p != "h2"))


@pytest.fixture(scope="module")
def sseproxy(proxy):
    """conftest's reverse proxy (x-fault headers on, a report, no traceback at the end)."""
    return proxy


def _url(px, proto, cid, host="demo.test"):
    return f"{'http' if proto == 'h1' else 'https'}://{host}:{px.port}/sse?sse={ALL}&gap=50&case={cid}"


@pytest.fixture(scope="module")
def k6_outcomes(sseproxy):
    cases = [{"id": f"k6-{p}-{i}", "url": _url(sseproxy, p, f"k6-{p}-{i}"), "headers": {"x-fault": f} if f else {}}
             for i, f in enumerate(FAULTS) for p in PROTOS]
    got = k6run.run(cases, script=SCRIPT, hosts={"demo.test": "127.0.0.1"}, per_case=2,
                    env={"SSL_CERT_FILE": str(sseproxy.ca_file)})
    return got, records_by_case(sseproxy, got, reported(got))  # each case and its sibling


@pytest.mark.parametrize("proto", PROTOS)
@pytest.mark.parametrize("index", range(len(FAULTS)), ids=[f or "no-fault" for f in FAULTS])
def test_k6_sibling_in_flight_is_annotated_as_k6_saw_it(k6_outcomes, proto, index):
    """HTTP/1.1: its own connection, untouched. HTTP/2: the same connection, so a
    connection-level fault (or a stall, which holds the connection) reaches it too,
    and its record must say what k6 saw; a stream-level fault leaves it alone."""
    got, recs = k6_outcomes
    cid = f"k6-{proto}-{index}-sib"
    k6, rec = got[cid], final_record(recs.get(cid))  # a GOAWAY's sibling may be retried by k6
    assert rec["fault"] is None
    assert (k6["error_code"], k6["error"]) == (rec["k6_error_code"], rec["k6_error"]), (k6, rec["outcome"])
    fault = FAULTS[index] or ""
    if proto == "h1" or not fault or "scope=stream" in fault or fault.startswith("rst_stream") \
            or fault.startswith("stall after_events=3 ms"):
        assert (k6["error_code"], k6["events"]) == (0, ALL), k6


def _one(recs):
    assert recs and len(recs) == 1, recs
    return recs[0]


def _expected_events(rec):
    paused = rec["fault"] and rec["fault"].startswith("stall") and "ms=" in rec["fault"]
    return ALL if rec["fault"] is None or paused else rec.get("events_sent") or 0


@pytest.mark.parametrize("proto", PROTOS)
@pytest.mark.parametrize("index", range(len(FAULTS)), ids=[f or "no-fault" for f in FAULTS])
def test_k6_code_and_events_match_the_record(k6_outcomes, proto, index):
    got, recs = k6_outcomes
    cid = f"k6-{proto}-{index}"
    k6, rec = got[cid], _one(recs.get(cid))
    assert (k6["error_code"], k6["error"]) == (rec["k6_error_code"], rec["k6_error"]), (k6, rec["outcome"])
    if rec["facts"].get("fallback"):  # an HTTP/2 kind on HTTP/1.1: a TCP reset before the response
        assert k6["events"] == 0
    elif FAULTS[index] and "after_bytes" not in FAULTS[index]:
        assert rec.get("events_sent") is not None or "after_events" not in FAULTS[index], rec
        assert k6["events"] == _expected_events(rec), (k6, rec["events_sent"])
        if "after_events" in FAULTS[index] and "ms=" not in FAULTS[index]:
            assert 0 < rec["events_sent"] < ALL
    elif FAULTS[index] is None:
        assert k6["events"] == ALL


async def _httpx(url, headers, ctx, h2):
    n, exc = 0, None
    try:
        async with httpx.AsyncClient(http2=h2, verify=ctx, timeout=2) as cl:
            async with cl.stream("GET", url, headers=headers) as r:
                async for line in r.aiter_lines():
                    n += line.startswith("data: ")
    except Exception as e:  # what the client raised is what we compare
        exc = (type(e).__name__, str(e))
    return n, exc


@pytest.fixture(scope="module")
def httpx_outcomes(sseproxy):
    ctx = H2First(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(str(sseproxy.ca_file))

    async def main():
        out = {}
        for i, f in enumerate(FAULTS):
            for p in PROTOS:
                cid = f"hx-{p}-{i}"
                out[cid], out[cid + "-sib"] = await asyncio.gather(
                    _httpx(_url(sseproxy, p, cid, "127.0.0.1"), {"x-fault": f} if f else {}, ctx, p == "h2"),
                    _httpx(_url(sseproxy, p, cid + "-sib", "127.0.0.1"), {}, ctx, p == "h2"))
        return out

    got = asyncio.run(main())
    return got, records_by_case(sseproxy, [c for c in got if not c.endswith("-sib")], any_record)


@pytest.mark.parametrize("proto", PROTOS)
@pytest.mark.parametrize("index", range(len(FAULTS)), ids=[f or "no-fault" for f in FAULTS])
def test_httpx_exception_and_events_match_the_record(httpx_outcomes, proto, index):
    got, recs = httpx_outcomes
    cid = f"hx-{proto}-{index}"
    (n, exc), rec = got[cid], _one(recs.get(cid))
    hx = rec["clients"]["httpx"]
    expected = [(hx["error"], hx["message"])] + [(a["error"], a["message"]) for a in hx.get("alt", [])]
    assert any((exc[0] if exc else None) == e and (not exc or not exc[1] or m.strip(",") in exc[1])
               for e, m in expected), (exc, hx, rec["outcome"])
    if FAULTS[index] and "after_bytes" not in FAULTS[index] and not rec["facts"].get("fallback"):
        assert n == _expected_events(rec), (n, rec["events_sent"])
    assert got[cid + "-sib"] == (ALL, None)  # the sibling stream in flight is untouched
