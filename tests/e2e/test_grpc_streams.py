"""gRPC server streaming through the proxy with grpcio: the stream cuts and the
status after N messages reach the client as a live stream (messages before the
fault arrive as the upstream sends them, not when it ends), and grpcio's status
equals the report's ``clients.grpcio``. The upstream's ``Tick`` sends 10
messages 100 ms apart; each faulted call runs beside an unfaulted sibling call.
Live and cut are told by the order of events (``grpc_support.Feed``), not by timing."""

from concurrent.futures import ThreadPoolExecutor

import pytest

grpc = pytest.importorskip("grpc")

from faults.tools.launch import ProxyProcess  # noqa: E402

from .grpc_support import TICK, Feed, GrpcServer, call  # noqa: E402
from .waiting import read_records, wait_connections_closed, wait_for_records  # noqa: E402

N = 10
CASES = [
    "grpc_status code=DEADLINE_EXCEEDED message=late after_messages=2",
    "grpc_status code=OK after_messages=3",
    "reset after_messages=2",
    "close after_messages=2",
    "rst_stream after_messages=2",
    "rst_stream code=CANCEL after_messages=3",
    "reset scope=stream after_messages=2",
    "stall after_messages=2",
    "stall after_messages=2 ms=300",
    "goaway code=INTERNAL_ERROR after_messages=2",
]


def paused_only(spec: str) -> bool:
    return "ms=" in spec


def cut(spec: str) -> bool:
    """The call ends at the fault, before the upstream's stream would (a paused stream goes on;
    grpc_status's trailers come with the upstream's end of stream)."""
    return not paused_only(spec) and not spec.startswith("grpc_status")


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    rep = tmp_path_factory.mktemp("grpcs") / "report.jsonl"
    results = []
    with GrpcServer() as server:
        px = ProxyProcess(mode=f"reverse:{server.url}",
                          options={"fault_header": True, "ssl_insecure": True, "fault_report": str(rep)})
        with px, ThreadPoolExecutor(2) as pool:
            for i, spec in enumerate(CASES):
                before = len(read_records(rep))
                sib = pool.submit(call, px.port, px.ca_file, None, method=TICK, request=bytes([N]), timeout=5)
                feed = Feed(hold_last=cut(spec))
                got = call(px.port, px.ca_file, spec, method=TICK, request=feed.request(N), timeout=2, feed=feed)
                got["feed"] = feed
                sib = sib.result()
                wait_connections_closed(px)  # both channels are closed: both calls recorded
                recs = wait_for_records(rep, lambda recs: len(recs) - before >= 2, f"the records of {spec} and its sibling")
                recs = [r for r in recs[before:] if r["fault"]]
                results.append((got, sib, recs))
        log = px.log()
    assert "Traceback" not in log, log[-3000:]
    return results


@pytest.mark.parametrize("index", range(len(CASES)), ids=CASES)
def test_grpcio_sees_a_live_stream_and_the_recorded_status(outcomes, index):
    got, sib, recs = outcomes[index]
    assert len(recs) == 1, recs
    rec = recs[0]
    if rec["outcome"]["event"] == "http.response":  # a pause that ended: the upstream's own status
        assert rec["clients"]["grpcio"]["error"] == got["name"] == "OK"  # the call's own status, from the trailers
    else:
        want = rec["clients"]["grpcio"]
        assert (got["name"], got["value"]) == (want["error"], want["value"]), (got, rec["outcome"])
    kept = rec["facts"]["messages_sent"]
    if CASES[index].startswith(("rst_stream", "reset scope=stream")):
        # a race, named: RST_STREAM lets grpcio drop a message it had not yet handed to the
        # call (1 of 2 seen at load average 11), so it sees the kept messages or one fewer
        assert len(got["messages"]) in (kept - 1, kept), (got, kept)
    else:
        assert len(got["messages"]) == (N if paused_only(CASES[index]) else kept), (got, kept)
    feed = got["feed"]
    assert feed.sent_at_first == 1, feed.sent_at_first  # streamed: the first message came as it was sent
    if cut(CASES[index]):
        assert feed.sent_at_end < N, feed.sent_at_end  # cut, not at the upstream's end
    assert (sib["name"], len(sib["messages"])) == ("OK", N), sib  # the sibling call is untouched
