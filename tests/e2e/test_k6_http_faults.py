"""Every HTTP fault, through the real mitmdump, with the real k6, over HTTP/1.1
and HTTP/2: k6's own error_code must equal the report's k6_error_code."""

import pytest

from faults.tools import k6run

from .conftest import final_record
from .waiting import final_seen, records_by_case

FAULTS = [
    "status code=503 retry_after=2",
    "status code=404 body=nope",
    "status code=429 header.x-rate=1",
    "status code=200",
    "status code=103",  # informational: k6 waits for a final status until its timeout
    "delay ms=150 jitter_ms=20",
    "delay ms=150 when=response",
    "hang",
    "hang ms=300",
    "reset when=before_response",
    "reset when=after_headers",
    "reset when=mid_body",
    "close when=before_response",
    "close when=after_headers",
    "close when=mid_body",
    "truncate",
    "bad_gzip",
    "throttle bytes_per_s=50000",
    None,  # control: no fault
]
# What k6's docs promise (where they say anything); the rest is what k6 reports.
DOCUMENTED = {"status code=503 retry_after=2": 1503, "status code=404 body=nope": 1404,
              "status code=429 header.x-rate=1": 1429, "reset when=before_response": 1220, None: 0}
PROTOS = {"h1": ("http", "127.0.0.1", "HTTP/1.1"), "h2": ("https", "demo.test", "HTTP/2.0")}


@pytest.fixture(scope="module")
def outcomes(proxy):
    results = {}
    for proto, (scheme, host, _) in PROTOS.items():
        cases = []
        for i, spec in enumerate(FAULTS):
            case = f"{proto}-{i}"
            c = {"id": case, "url": f"{scheme}://{host}:{proxy.port}/f?case={case}&size=30000", "timeout": "2s"}
            if spec:
                c["headers"] = {"x-fault": spec}
            cases.append(c)
        results[proto] = k6run.run(cases, env={"SSL_CERT_FILE": str(proxy.ca_file)}, hosts={"demo.test": "127.0.0.1"})
    return results, records_by_case(proxy, [case for got in results.values() for case in got])


@pytest.mark.parametrize("proto", PROTOS)
@pytest.mark.parametrize("index", range(len(FAULTS)), ids=[f or "no-fault" for f in FAULTS])
def test_k6_reports_what_we_annotate(outcomes, proto, index):
    k6, ours = outcomes[0][proto], outcomes[1]
    case = f"{proto}-{index}"
    spec = FAULTS[index]
    got = k6[case]
    recs = ours.get(case)
    assert recs, f"no report record for {case}"
    final = final_record(recs)
    assert final["fault"] == spec
    assert final["k6_error_code"] == got["error_code"], (spec, got, final)
    assert final["k6_error"] == (got["error"] or ""), (spec, got, final)
    if spec in DOCUMENTED:
        assert got["error_code"] == DOCUMENTED[spec]
    if got["status"]:  # a response reached k6: over the protocol we meant
        assert got["proto"] == PROTOS[proto][2]
    if spec is None or spec.startswith(("delay", "throttle")):  # untouched upstream answer
        assert got["status"] == 200 and got["body_len"] == 30000 and got["error_code"] == 0
    # the fault's effect on k6's own timing (a lower bound, not a speed check)
    if spec and spec.startswith("delay"):
        assert got["duration"] >= 125 and final["facts"]["delay_ms"] >= 130
    if spec and spec.startswith("throttle"):
        assert got["duration"] >= 450  # 30,000 bytes at 50,000 B/s


def test_faults_fire_once_per_request_on_fresh_connections(outcomes):
    for case, recs in outcomes[1].items():
        assert len(recs) == 1, (case, recs)


def test_reused_connection_retry_is_predicted(proxy):
    """Go retries a request that died before any response byte on a reused
    keep-alive connection: the first attempt says so, the last one is what k6 reports."""
    cases = []
    for i, spec in enumerate(["reset when=before_response", "close when=before_response", "hang ms=200",
                              "reset when=mid_body"]):
        cases.append({"id": f"warm{i}", "url": f"http://127.0.0.1:{proxy.port}/r?case=reuse-warm{i}"})
        cases.append({"id": f"f{i}", "url": f"http://127.0.0.1:{proxy.port}/r?case=reuse-f{i}",
                      "headers": {"x-fault": spec}, "timeout": "3s"})
    got = k6run.run(cases, reuse=True)
    # f0-f2: the retried attempt's record and the retry's (in either order), f3: one
    ours = records_by_case(proxy, [f"reuse-f{i}" for i in range(4)],
                           lambda case, recs: final_seen(recs) and len(recs) >= (1 if case == "reuse-f3" else 2))
    for i in range(3):
        first, *rest = ours[f"reuse-f{i}"]
        assert first["client_retry"] is True and first["facts"]["reused_connection"] is True
        assert len(rest) == 1 and rest[0]["client_retry"] is False
        assert rest[0]["k6_error_code"] == got[f"f{i}"]["error_code"]
    # a failure after response bytes is never retried
    (only,) = ours["reuse-f3"]
    assert only["client_retry"] is False and only["k6_error_code"] == got["f3"]["error_code"] == 1220
