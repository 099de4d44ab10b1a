"""gRPC through mitmdump (TLS both sides, ALPN h2) with a grpcio client and a
grpcio server: every gRPC status, and RST_STREAM / GOAWAY / violations on a
gRPC call. The status grpcio reports must equal the report's
``clients.grpcio``."""

import pytest

grpc = pytest.importorskip("grpc")

from faults.tools.launch import ProxyProcess  # noqa: E402

from .grpc_support import COUNT, SAY, GrpcServer, call  # noqa: E402
from .waiting import read_records, wait_connections_closed, wait_for_records  # noqa: E402

GRPC_NAMES = ["OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
              "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
              "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"]

CASES = (
    [(f"grpc_status code={c} message='status {c}'", SAY) for c in range(17)]
    + [("grpc_status code=unavailable", SAY)]
    + [(f"grpc_status code={n} message=late after_messages=2", COUNT) for n in ("DEADLINE_EXCEEDED", "OK")]
    + [(f"rst_stream code={c} when=before_response", SAY) for c in list(range(14)) + [0x1F]]
    + [(f"rst_stream code={c} when={w}", COUNT) for w in ("after_headers", "mid_body") for c in (2, 7, 8)]
    + [(f"goaway code={c} last_stream={ls} when={w} then={t}", SAY)
       for c in ("NO_ERROR", "INTERNAL_ERROR") for ls in ("this", "below")
       for w in ("before_response", "after_response") for t in ("close", "drain")]
    + [(f"h2_violation kind={k}", SAY) for k in ("data_on_idle_stream", "oversized_frame", "window_overflow",
                                                "bad_hpack")]
    + [(None, SAY)]
)


def _refused(spec: str | None) -> bool:
    return bool(spec) and "last_stream=below when=before_response" in spec


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    rep = tmp_path_factory.mktemp("grpc") / "report.jsonl"
    with GrpcServer() as server:
        px = ProxyProcess(mode=f"reverse:{server.url}",
                          options={"fault_header": True, "ssl_insecure": True, "fault_report": str(rep)})
        with px:
            results = []
            for spec, method in CASES:
                before = len(read_records(rep))
                got = call(px.port, px.ca_file, spec, method=method, request=b"\x03" if method == COUNT else b"hi",
                           timeout=3)
                # its channel is closed: once the proxy closed the connection every attempt is recorded
                # (a call a GOAWAY refused: two, see the test)
                wait_connections_closed(px)
                n = 2 if _refused(spec) else 1
                results.append((got, wait_for_records(rep, lambda recs: len(recs) - before >= n,
                                                      f"{n} records of {spec}")[before:]))
        log = px.log()
    assert "mitmproxy has crashed" not in log and "Traceback" not in log, log[-3000:]
    return results


@pytest.mark.parametrize("index", range(len(CASES)), ids=[c[0] or "no-fault" for c in CASES])
def test_grpcio_reports_what_we_annotate(outcomes, index):
    spec, method = CASES[index]
    got, recs = outcomes[index]
    refused = _refused(spec)
    # grpcio retries a call a GOAWAY refused once, transparently; no other call is retried
    assert len(recs) == (2 if refused else 1), (spec, recs)
    rec = recs[-1]  # with a refused call, both attempts carry the same grpcio prediction
    if refused:
        assert all(r["clients"]["grpcio"]["transparent_retry"] for r in recs)
    assert rec["http_version"] == "HTTP/2.0" and rec["url"].endswith(method)
    if spec is None:
        assert got["name"] == "OK" and got["messages"] == [b"echo:hi"]
        return
    want = rec["clients"]["grpcio"]
    # a report names a second outcome only where the client races (and says "uncertain")
    expected = [(want["error"], want["value"])] + [(a["error"], a["value"]) for a in want.get("alt", [])]
    assert (got["name"], got["value"]) in expected, (spec, got, rec)
    assert bool(want.get("alt")) == (want["certainty"] == "uncertain" == rec["certainty"]
                                     and spec == "h2_violation kind=window_overflow")
    assert rec["annotation"]["grpc_status"] == {"name": want["error"], "value": want["value"]}
    if spec.startswith("grpc_status"):
        assert got["name"] == GRPC_NAMES[rec["facts"]["grpc_status"]]
        assert rec["k6_error_code"] == 0  # k6's http module sees an HTTP 200
        if got["name"] != "OK" and "message=" in spec:
            assert got["details"] == rec["facts"]["grpc_message"] != ""
        if "after_messages=2" in spec:
            assert got["messages"] == [b"\x00", b"\x01"]  # two of the upstream's three messages
    else:
        assert rec["facts"]["h2_frame"] in ("rst_stream", "goaway", "violation")
