"""fault_passthrough through a real mitmdump: hosts no rule can select are relayed
as bytes (no flow, no record), the others still get their faults, and a plan
change (control endpoint, plan file) moves a host in or out for new connections."""

import subprocess

import httpx
import pytest

from faults.tools import k6run
from faults.tools.launch import ProxyProcess

from .waiting import read_records, wait_connections_closed, wait_for_records, wait_until

TOKEN = "tok-pass"
CONTROL = "http://faults.control"
AUTH = {"authorization": f"Bearer {TOKEN}"}


def curl_tunnel(px, url: str) -> int:
    """curl through the proxy with CONNECT even for http:// (a tunnel per request)."""
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--proxytunnel", "-x", px.url,
                          "--max-time", "10", url], capture_output=True, text=True, timeout=30)
    return int(out.stdout or 0)


def recorded(px, marker: str, expected: int) -> list[dict]:
    """The records with ``marker`` in their URL, once ``expected`` are there; for none, once the
    proxy closed every connection (curl's tunnel is over: a flow on it would be recorded)."""
    mine = lambda recs: [r for r in recs if marker in (r.get("url") or "")]  # noqa: E731
    if not expected:
        wait_connections_closed(px)
    return mine(wait_for_records(px.report_path, lambda recs: len(mine(recs)) >= expected, f"{expected} records of {marker}"))


@pytest.fixture(scope="module")
def px(tmp_path_factory):
    rep = tmp_path_factory.mktemp("pass") / "report.jsonl"
    p = ProxyProcess(options={"fault_passthrough": True, "fault_control": True, "fault_control_token": TOKEN,
                              "fault_report": str(rep), "faults": ["|~d ^localhost$|status code=503"]})
    p.report_path = rep
    with p:
        yield p
    assert "Traceback" not in p.log(), p.log()[-3000:]


def test_unselectable_host_is_relayed_and_a_plan_change_moves_it(px, upstream):
    port = upstream.port
    # localhost has a rule: intercepted, faulted, recorded; 127.0.0.1 has none: relayed as bytes
    assert curl_tunnel(px, f"http://localhost:{port}/?m=a1") == 503
    assert curl_tunnel(px, f"http://127.0.0.1:{port}/?m=b1") == 200
    assert [r["k6_error_code"] for r in recorded(px, "m=a1", 1)] == [1503]
    assert recorded(px, "m=b1", 0) == []
    assert "127.0.0.1: no rule can select it: relayed as bytes" in px.log()

    with httpx.Client(proxy=px.url, timeout=5) as control:
        # runtime rules come first: now 127.0.0.1 can be selected, localhost still can (option rule)
        r = control.post(f"{CONTROL}/rules", content="|~d ^127.0.0.1$|status code=502\n", headers=AUTH)
        assert r.status_code == 200, r.text
        assert curl_tunnel(px, f"http://127.0.0.1:{port}/?m=b2") == 502
        assert [r["k6_error_code"] for r in recorded(px, "m=b2", 1)] == [1502]
        # back out: cleared, 127.0.0.1 is relayed again
        assert control.delete(f"{CONTROL}/rules", headers=AUTH).status_code == 200
    assert curl_tunnel(px, f"http://127.0.0.1:{port}/?m=b3") == 200
    assert recorded(px, "m=b3", 0) == []
    assert curl_tunnel(px, f"http://localhost:{port}/?m=a2") == 503


def test_k6_through_a_reverse_proxy_and_a_plan_file_reload(tmp_path, upstream):
    plan = tmp_path / "plan.yaml"
    plan.write_text("rules:\n  - {match: '~d api.test', fault: 'status code=503'}\n")
    rep = tmp_path / "report.jsonl"
    p = ProxyProcess(mode=f"reverse:{upstream.url}",
                     options={"fault_passthrough": True, "fault_plan": str(plan), "fault_report": str(rep)})
    with p:
        url = f"{p.url}/k6?m="
        res = k6run.run([{"id": f"p{i}", "url": url + f"p{i}"} for i in range(3)])
        assert [res[f"p{i}"]["status"] for i in range(3)] == [200] * 3
        wait_connections_closed(p)  # k6 is done: a flow on its connections would be recorded
        assert read_records(rep) == []  # relayed: no flow, no record
        # the plan now selects the upstream's host: the next connections are intercepted
        plan.write_text("rules:\n  - {match: '~d 127.0.0.1', fault: 'status code=503'}\n")
        wait_until(lambda: "fault plan reloaded" in p.log(), 10, "the plan file's reload", seen=lambda: p.log()[-2000:])
        res = k6run.run([{"id": "f0", "url": url + "f0"}])
        assert res["f0"]["status"] == 503 and res["f0"]["error_code"] == 1503
        wait_connections_closed(p)
        assert [r["k6_error_code"] for r in wait_for_records(rep, len, "f0's record")] == [1503]
    assert "Traceback" not in p.log(), p.log()[-3000:]
