"""Upload faults with the real k6: an 8 MiB POST cut mid-request (RST / FIN), a 413
sent before the body is read, a paced upload, and on HTTP/2 the stream reset during
the upload. k6's error_code and error must equal the report's (or, where k6 races,
be one of the codes the record names)."""

import pytest

from faults.tools import k6run

from .conftest import final_record
from .waiting import records_by_case, reported

SCRIPT = k6run.SCRIPT.replace("c.body || null", "c.body_size ? 'x'.repeat(c.body_size) : null")
MIB = 1024 * 1024
FAULTS = {  # spec -> (protocols, body size)
    "reset when=mid_request after_bytes=65536": (("h1", "h2"), 8 * MIB),
    "close when=mid_request after_bytes=65536": (("h1", "h2"), 8 * MIB),
    "reset when=mid_request after_bytes=65536 scope=stream": (("h2",), 8 * MIB),
    "close when=mid_request after_bytes=65536 scope=stream": (("h2",), 8 * MIB),
    "rst_stream code=CANCEL when=mid_request after_bytes=65536": (("h1", "h2"), 8 * MIB),
    "rst_stream code=INTERNAL_ERROR when=mid_request": (("h2",), 8 * MIB),
    "rst_stream code=REFUSED_STREAM when=mid_request after_bytes=65536": (("h2",), 8 * MIB),
    "status code=413 when=early": (("h1", "h2"), 8 * MIB),
    "throttle direction=request bytes_per_s=1000000": (("h1", "h2"), MIB),
}
PROTOS = {"h1": ("http", "127.0.0.1", "HTTP/1.1"), "h2": ("https", "demo.test", "HTTP/2.0")}
CASES = [(spec, proto) for spec, (protos, _) in FAULTS.items() for proto in protos]


@pytest.fixture(scope="module")
def outcomes(proxy, monkeypatch_module):
    monkeypatch_module.setattr(k6run, "SCRIPT", SCRIPT)
    cases = []
    for i, (spec, proto) in enumerate(CASES):
        scheme, host, _ = PROTOS[proto]
        cases.append({"id": f"up{i}", "method": "POST", "url": f"{scheme}://{host}:{proxy.port}/u?case=up{i}",
                      "headers": {"x-fault": spec}, "body_size": FAULTS[spec][1], "timeout": "10s"})
    got = k6run.run(cases, env={"SSL_CERT_FILE": str(proxy.ca_file)}, hosts={"demo.test": "127.0.0.1"})
    return got, records_by_case(proxy, got, reported(got))


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


@pytest.mark.parametrize("index", range(len(CASES)), ids=[f"{p}:{s}" for s, p in CASES])
def test_k6_reports_what_we_annotate_for_uploads(outcomes, index):
    got, ours = outcomes
    spec, proto = CASES[index]
    k6 = got[f"up{index}"]
    recs = ours.get(f"up{index}")
    assert recs, f"no report record for {spec} on {proto}"
    final = final_record(recs)
    print(spec, proto, k6["error_code"], k6["error"], "| ours:", final["k6_error_code"], final["k6_error"],
          final["certainty"], final.get("note"))
    assert final["fault"] == spec
    named = [(final["k6_error_code"], final["k6_error"])] + [
        (a["error"], a["message"]) for a in final["clients"]["k6"].get("alt", [])]
    assert (k6["error_code"], k6["error"] or "") in named, (spec, proto, k6, final)
    if k6["status"]:
        assert k6["proto"] == PROTOS[proto][2]
