"""Observability through a real mitmdump: the live status line, the summary at
shutdown, the annotated HAR (fault_har) and mitmproxy's own flow file
(save_stream_file), which carries flow.metadata, comment and marker."""

import json

import httpx
from mitmproxy import io as mio

from faults.tools.launch import ProxyProcess

from .waiting import wait_for_records, wait_until


def test_status_summary_har_and_flow_file(upstream, tmp_path):
    har, dump = tmp_path / "flows.har", tmp_path / "flows.mitm"
    px = ProxyProcess(options={
        "faults": ["|~u /api|status code=503 retry_after=1 name=api-down", "|~u /cut|reset when=before_response"],
        "fault_har": str(har), "save_stream_file": str(dump),
    })
    with px:
        with httpx.Client(proxy=px.url, timeout=5) as c:
            for i in range(3):
                assert c.get(f"{upstream.url}/api/{i}").status_code == 503
            assert c.get(f"{upstream.url}/ok").status_code == 200
            try:
                c.get(f"{upstream.url}/cut")
            except httpx.HTTPError:
                pass
        wait_until(lambda: "faults: 5 flows, 4 faulted" in px.log(), 10, "the live line counting 5 flows",
                   seen=lambda: px.log()[-2000:])
    # the output pump may lag the process exit a little
    wait_until(lambda: "1220" in px.log().partition("by k6 error code:")[2], 5, "the summary's k6 codes",
               seen=lambda: px.log()[-2000:])
    log = px.log()
    live = [ln for ln in log.splitlines() if ln.startswith("faults: ")]
    assert live and "faults: 5 flows, 4 faulted | k6 codes: 1503 x3" in live[-1], log
    assert len(live) <= 6  # rate-limited, not one line per flow
    # the summary table at shutdown
    assert "fault summary: 5 flows, 4 faulted" in log
    by_rule = log.split("by rule:")[1].split("by k6 error code:")[0]
    assert "api-down" in by_rule and "status code=503 retry_after=1" in by_rule and "1503x3" in by_rule
    assert "reset when=before_response" in by_rule and "1220x1" in by_rule and "(no fault)" in by_rule
    by_code = log.split("by k6 error code:")[1]
    assert "1503" in by_code and "1220" in by_code
    assert "Traceback" not in log

    entries = json.loads(har.read_text())["log"]["entries"]
    api = [e for e in entries if "/api/" in e["request"]["url"]]
    assert len(entries) == 5 and len(api) == 3
    assert all(e["_k6_error_code"] == 1503 and e["_fault"] == "status code=503 retry_after=1" for e in api)
    assert "fault: status code=503 retry_after=1 [api-down] -> k6 1503" in api[0]["comment"]
    cut = [e for e in entries if e["request"]["url"].endswith("/cut")][0]
    assert cut["_k6_error_code"] == 1220 and cut["_marked"]

    with dump.open("rb") as fh:
        flows = list(mio.FlowReader(fh).stream())
    by_path = {f.request.path: f for f in flows}
    f = by_path["/api/0"]
    assert f.metadata["k6_error_code"] == 1503 and f.metadata["fault"]["rule"] == "api-down"
    assert f.marked and "k6 1503" in f.comment
    assert by_path["/cut"].metadata["k6_error_code"] == 1220 and by_path["/ok"].metadata["k6_error_code"] == 0


def test_live_line_can_be_turned_off(upstream, tmp_path):
    rep = tmp_path / "r.jsonl"
    with ProxyProcess(options={"fault_status": False, "fault_summary": False, "fault_report": str(rep)}) as px:
        with httpx.Client(proxy=px.url, timeout=5) as c:
            c.get(f"{upstream.url}/x")
        # the flow is annotated: its record is written, and right after it (the same call) the
        # live line would be, were it on (the first flow's line is not held back by the rate limit)
        wait_for_records(rep, len, "the flow's record")
    # the live line is written bare; "[time] faults: active: ..." is the start-up log line
    assert not any(ln.startswith("faults: ") for ln in px.lines) and "fault summary" not in px.log()
    assert "faults: active:" in px.log()
