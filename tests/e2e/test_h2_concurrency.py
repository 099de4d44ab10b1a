"""HTTP/2 under concurrency: several VUs, each sending ``http.batch`` of 4 on its
own connection, random connection-ending and stream faults mixed with clean
requests, for a few seconds. Every request's annotation must equal k6's own
error_code and error (or name it among its alternatives, marked uncertain) for
all but a sliver of requests; every request has a record while the proxy runs;
file descriptors return to the baseline; no traceback."""

import pytest

from faults.tools import k6run

from .conftest import final_record
from .waiting import open_fds, records_by_case, reported, swept, wait_connections_closed, wait_until

SCRIPT = r"""
import http from 'k6/http';
import exec from 'k6/execution';
export const options = {
  scenarios: { s: { executor: 'constant-vus', vus: 4, duration: __ENV.DURATION } },
  hosts: JSON.parse(__ENV.HOSTS || '{}'),
};
const FAULTS = JSON.parse(__ENV.FAULTS);
export default function () {
  const base = __ENV.BASE;
  const id = `${__ENV.RUN}v${exec.vu.idInTest}i${exec.vu.iterationInScenario}`;
  const reqs = [0, 1, 2, 3].map((j) => {
    const f = FAULTS[Math.floor(Math.random() * FAULTS.length)];
    const ms = Math.floor(Math.random() * 150);
    return ['GET', `${base}/c?case=${id}b${j}&size=20000&ms=${ms}`, null,
            { timeout: '5s', headers: f ? { 'x-fault': f } : {} }];
  });
  http.batch(reqs).forEach((res, j) => console.log(JSON.stringify({ id: `${id}b${j}`,
    error_code: res.error_code, error: res.error, status: res.status, proto: res.proto })));
}
"""
# faults that end a connection or a stream, plus clean requests; none that make Go retry
# until its timeout (those are covered one by one in test_k6_h2_frames.py)
FAULTS = [None, None, None, None, None, "reset when=before_response", "reset when=mid_body",
          "close when=before_response", "close when=mid_body", "truncate", "hang ms=100",
          "goaway code=INTERNAL_ERROR then=close", "goaway code=NO_ERROR then=close",
          "h2_violation kind=bad_hpack", "h2_violation kind=data_on_idle_stream",
          "rst_stream code=CANCEL when=mid_body", "rst_stream code=INTERNAL_ERROR when=after_headers",
          "status code=503", "delay ms=50"]


@pytest.fixture(scope="module")
def load(upstream, tmp_path_factory):
    import json

    from faults.tools.launch import ProxyProcess

    rep = tmp_path_factory.mktemp("h2load") / "report.jsonl"
    px = ProxyProcess(mode=f"reverse:{upstream.url}", options={"fault_header": True, "fault_report": str(rep)})
    px.report_path = rep
    with px:
        env = {"SSL_CERT_FILE": str(px.ca_file), "BASE": f"https://demo.test:{px.port}",
               "FAULTS": json.dumps(FAULTS)}
        pid = px.proc.pid
        k6run.run([], script=SCRIPT.replace("constant-vus', vus: 4", "constant-vus', vus: 1"), per_case=0,
                  hosts={"demo.test": "127.0.0.1"}, env={**env, "DURATION": "1s", "RUN": "warm"}, expect_any=True)
        wait_connections_closed(px)  # the warm-up's connections are not part of the baseline
        before = open_fds(pid)
        got = k6run.run([], script=SCRIPT, per_case=0, hosts={"demo.test": "127.0.0.1"},
                        env={**env, "DURATION": "6s", "RUN": "m"}, expect_any=True, timeout=120)
        recs = records_by_case(px, got, reported(got))
        wait_until(lambda: open_fds(pid) <= before, 10, "the file descriptors back to the baseline",
                   fail=False)  # test_no_leak_and_no_traceback compares
        after = open_fds(pid)
        log = px.log()
    yield got, recs, before, after, log


def test_annotations_match_k6_under_concurrency(load):
    got, recs, *_ = load
    assert len(got) >= 40, len(got)
    missing, wrong, faulted = [], [], 0
    for key, k6 in got.items():
        mine = recs.get(key)
        if not mine:
            missing.append(key)
            continue
        final = final_record(mine)
        faulted += bool(final["fault"])
        alts = final["clients"]["k6"].get("alt", [])
        expected = [(final["k6_error_code"], final["k6_error"])] + [(a["error"], a["message"]) for a in alts]
        if (k6["error_code"], k6["error"] or "") not in expected:
            wrong.append((key, final["fault"], (k6["error_code"], k6["error"]), expected[0],
                          final["outcome"]["summary"], {k: v for k, v in final["facts"].items()
                                                        if k in ("stream_id", "ended_seq", "last_stream")}))
    assert not missing, missing
    assert faulted >= 10
    # "well under 1%": allow one request in 150 for a race we have not classified
    assert len(wrong) <= len(got) // 150, "\n".join(map(str, wrong))


def test_no_leak_and_no_traceback(load):
    _, _, before, after, log = load
    assert after <= before, (before, after)
    assert "Traceback" not in log and "mitmproxy has crashed" not in log, log[-3000:]


# -- the same with httpx[http2] and with grpcio: four requests in flight per connection ---------
def _readings(report: dict | None) -> list:
    if report is None:
        return ["(no prediction)"]
    return [report["error"]] + [a["error"] for a in report.get("alt", [])]


def _compare(got: dict, recs: list[dict], client: str):
    """got: request id -> what the client raised; recs: the proxy's report."""
    by_id: dict[str, list] = {}
    for r in recs:
        if r.get("request_id"):
            by_id.setdefault(r["request_id"], []).append(r)
    missing = [rid for rid in got if rid not in by_id]
    wrong = []
    for rid, seen in got.items():
        if rid in by_id:
            final = final_record(by_id[rid])
            if seen not in _readings(final["clients"].get(client)):
                wrong.append((rid, final["fault"], seen, _readings(final["clients"].get(client)),
                              final["outcome"]["summary"]))
    return missing, wrong


@pytest.fixture(scope="module")
def h2_clients(upstream, tmp_path_factory):
    import asyncio
    import random
    import ssl

    import httpx

    from faults import report
    from faults.tools.launch import ProxyProcess

    from .grpc_support import SAY, GrpcServer, _ident, channel

    grpc = pytest.importorskip("grpc")
    rnd = random.Random(20261202)
    out = {}

    class H2Only(ssl.SSLContext):  # httpx offers http/1.1 first; offer h2 only
        def set_alpn_protocols(self, protos):
            super().set_alpn_protocols(["h2"])

    rep = tmp_path_factory.mktemp("h2clients") / "httpx.jsonl"
    with ProxyProcess(mode=f"reverse:{upstream.url}", options={"fault_header": True, "fault_report": str(rep)}) as px:
        ctx = H2Only(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(str(px.ca_file))
        got = {}

        async def batch(b):
            async with httpx.AsyncClient(http2=True, verify=ctx, timeout=3) as c:
                async def one(j):
                    rid, f = f"hx{b}r{j}", rnd.choice(FAULTS)
                    try:
                        await c.get(f"https://127.0.0.1:{px.port}/c?size=20000&ms={rnd.randrange(150)}",
                                    headers={"x-request-id": rid, **({"x-fault": f} if f else {})},
                                    extensions={"sni_hostname": "demo.test"})
                        got[rid] = None
                    except Exception as e:  # noqa: BLE001 -- h2's own errors escape httpx at times
                        got[rid] = type(e).__name__
                await asyncio.gather(*(one(j) for j in range(4)))

        async def main():
            for b in range(50):
                await batch(b)
        asyncio.run(main())
        swept(px)  # a request cut before the proxy parsed it has no record: no set to wait for
        out["httpx"] = (got, report.read(rep), px.log())

    rep = tmp_path_factory.mktemp("h2clients") / "grpc.jsonl"
    with GrpcServer() as server, ProxyProcess(mode=f"reverse:{server.url}", options={
            "fault_header": True, "ssl_insecure": True, "fault_report": str(rep)}) as px:
        got = {}
        for b in range(30):
            with channel(px.port, px.ca_file) as ch:  # one channel: one HTTP/2 connection
                rpc = ch.unary_unary(SAY, request_serializer=_ident, response_deserializer=_ident)
                calls = []
                for j in range(4):
                    rid, f = f"g{b}r{j}", rnd.choice(FAULTS)
                    calls.append((rid, rpc.future(b"hi", timeout=3, metadata=[("x-request-id", rid)] + (
                        [("x-fault", f)] if f else []))))
                for rid, fut in calls:
                    try:
                        fut.result()
                        got[rid] = "OK"
                    except grpc.RpcError as e:
                        got[rid] = e.code().name
        swept(px)
        out["grpcio"] = (got, report.read(rep), px.log())
    return out


@pytest.mark.parametrize("client", ["httpx", "grpcio"])
def test_other_clients_under_concurrency(h2_clients, client):
    got, recs, log = h2_clients[client]
    missing, wrong = _compare(got, recs, client)
    # a request the connection's end cut before the proxy parsed it has no flow, so no
    # record: only a request the client saw fail may be missing, and rarely
    assert all(got[rid] not in (None, "OK") for rid in missing), [(rid, got[rid]) for rid in missing]
    assert len(missing) <= len(got) // 50, missing
    # httpx (h2) closes the whole connection when one stream breaks the protocol rules it
    # checks, and then fails even complete siblings with whatever exception it meets first
    # (WriteError, EndOfStream, LocalProtocolError, ...): a client-side race the proxy cannot
    # see. Measured: 2-4% of requests under this mix; grpcio: none.
    limit = len(got) // 20 if client == "httpx" else len(got) // 100
    assert len(wrong) <= limit, "\n".join(map(str, wrong))
    assert "Traceback" not in log, log[-3000:]
