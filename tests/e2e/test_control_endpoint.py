"""The control endpoint through a real mitmdump, with a real HTTP client (httpx)."""

import httpx
import pytest

from faults import report
from faults.tools.launch import ProxyProcess

from .waiting import wait_for_records

TOKEN = "tok-e2e"
CONTROL = "http://faults.control"


@pytest.fixture(scope="module")
def px(tmp_path_factory):
    rep = tmp_path_factory.mktemp("ctl") / "report.jsonl"
    p = ProxyProcess(options={"fault_control": True, "fault_control_token": TOKEN, "fault_seed": 11,
                              "fault_report": str(rep)})
    p.report_path = rep
    with p:
        yield p
    assert "Traceback" not in p.log(), p.log()[-3000:]


@pytest.fixture
def client(px):
    with httpx.Client(proxy=px.url, timeout=5) as c:
        yield c
        c.delete(f"{CONTROL}/rules", headers={"authorization": f"Bearer {TOKEN}"})


def test_set_list_fault_clear_over_http(px, client, upstream):
    auth = {"authorization": f"Bearer {TOKEN}"}
    r = client.post(f"{CONTROL}/rules", content="|~u /api/|status code=503 retry_after=1\n", headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["rules"][0]["fault"] == "status code=503 retry_after=1"
    assert client.get(f"{CONTROL}/").status_code == 403  # a token is set: reads need it too (the seed)
    listing = client.get(f"{CONTROL}/", headers=auth).json()
    assert listing["rules"][0]["source"] == "runtime" and listing["seed"] == 11

    hit = client.get(f"{upstream.url}/api/x")
    assert hit.status_code == 503 and hit.headers["retry-after"] == "1"
    assert client.get(f"{upstream.url}/other").status_code == 200

    stats = client.get(f"{CONTROL}/stats", headers=auth).json()
    assert stats["rules"][0]["applied"] == 1 and stats["codes"].get("1503") == 1

    assert client.delete(f"{CONTROL}/rules", headers={"x-fault-token": TOKEN}).status_code == 200
    assert client.get(f"{upstream.url}/api/x").status_code == 200

    api_x = lambda recs: [r for r in recs if "/api/x" in r["url"]]  # noqa: E731
    recs = api_x(wait_for_records(px.report_path, lambda recs: len(api_x(recs)) >= 2, "the records of both /api/x"))
    assert [r["k6_error_code"] for r in recs] == [1503, 0]


def test_yaml_and_json_bodies(client, upstream):
    auth = {"authorization": f"Bearer {TOKEN}"}
    plan = "rules:\n  - name: teapot\n    match: '~u /tea'\n    fault: status code=418\n"
    r = client.post(f"{CONTROL}/rules", content=plan, headers={**auth, "content-type": "application/yaml"})
    assert r.status_code == 200 and r.json()["rules"][0]["name"] == "teapot"
    assert client.get(f"{upstream.url}/tea").status_code == 418
    r = client.post(f"{CONTROL}/rules?append=1", json={"faults": ["|~u /gone|status code=410"]}, headers=auth)
    assert [x["fault"] for x in r.json()["rules"]] == ["status code=418", "status code=410"]
    assert client.get(f"{upstream.url}/gone").status_code == 410


def test_without_token_403_and_malformed_400(client, upstream):
    r = client.post(f"{CONTROL}/rules", content="status code=503")
    assert r.status_code == 403 and "token" in r.json()["error"]
    r = client.post(f"{CONTROL}/rules", content="status code=503", headers={"authorization": "Bearer nope"})
    assert r.status_code == 403
    assert client.get(f"{upstream.url}/x").status_code == 200  # nothing changed
    r = client.post(f"{CONTROL}/rules", content="status code=503 probability=often",
                    headers={"x-fault-token": TOKEN})
    assert r.status_code == 400 and "probability='often'" in r.json()["error"], r.text
    r = client.post(f"{CONTROL}/rules", content="|~bogus|status code=503", headers={"x-fault-token": TOKEN})
    assert r.status_code == 400 and "flow filter" in r.json()["error"]


def test_reverse_mode_host_header(upstream):
    with ProxyProcess(mode=f"reverse:{upstream.url}",
                      options={"fault_control": True, "fault_control_token": TOKEN,
                               "keep_host_header": True}) as rp:
        with httpx.Client(base_url=rp.url, timeout=5) as c:
            r = c.post("/rules", content="status code=502", headers={"host": "faults.control", "x-fault-token": TOKEN})
            assert r.status_code == 200, r.text
            assert c.get("/anything").status_code == 502


def test_reverse_mode_without_keep_host_header_never_forwards_the_token(upstream):
    """mitmproxy rewrites the Host header to the upstream's before any hook; the name the
    client sent is kept (faults.plan.client_host), so Host: faults.control reaches the
    endpoint; a token sent to any other host is never forwarded (421)."""
    with ProxyProcess(mode=f"reverse:{upstream.url}",
                      options={"fault_control": True, "fault_control_token": TOKEN}) as rp:
        with httpx.Client(base_url=rp.url, timeout=5) as c:
            r = c.post("/rules", content="status code=502", headers={"host": "faults.control",
                                                                      "x-fault-token": TOKEN})
            assert r.status_code == 200 and r.json()["rules"][0]["fault"] == "status code=502"
            r = c.get("/echo", headers={"authorization": f"Bearer {TOKEN}"})
            assert r.status_code == 421 and "not forwarded" in r.json()["error"]
            assert c.delete("/rules", headers={"host": "faults.control", "x-fault-token": TOKEN}).status_code == 200
            assert c.get("/anything").status_code == 200  # no rule left, ordinary traffic flows


def test_off_by_default_not_reachable(upstream):
    """Endpoint off: its host is proxied like any other (here: no such host, 502); a
    request carrying the token is still never forwarded (421)."""
    with ProxyProcess(options={"fault_control_token": TOKEN}) as p:
        with httpx.Client(proxy=p.url, timeout=10) as c:
            r = c.get(f"{CONTROL}/")
            assert r.status_code == 502 and "rules" not in r.text
            r = c.get(f"{CONTROL}/", headers={"x-fault-token": TOKEN})
            assert r.status_code == 421 and "fault_control=true" in r.text
            r = c.post(f"{CONTROL}/rules", content="status code=503", headers={"x-fault-token": TOKEN})
            assert r.status_code == 421
            assert c.get(f"{upstream.url}/x").status_code == 200  # no fault was set


def test_k6_example_script_sets_faults_and_report_explains(upstream, tmp_path):
    """examples/k6_script.js sets its faults through the endpoint (reverse mode, Host header),
    and `python -m faults report` explains both k6's JSON output and the proxy report."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    from faults.tools import k6run

    root = Path(__file__).resolve().parents[2]
    rep, k6json = tmp_path / "report.jsonl", tmp_path / "k6.json"
    with ProxyProcess(mode=f"reverse:{upstream.url}", options={
        "fault_control": True, "fault_control_token": TOKEN, "keep_host_header": True,
        "fault_seed": 42, "fault_report": str(rep),
    }) as rp:
        env = dict(os.environ, K6_NO_USAGE_REPORT="true")
        proc = subprocess.run(
            [k6run.k6_path(), "run", "--quiet", "--no-summary", "-e", f"TARGET={rp.url}", "-e", f"FAULT_TOKEN={TOKEN}",
             "-e", "ITERATIONS=20", "--out", f"json={k6json}", str(root / "examples" / "k6_script.js")],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        with httpx.Client(base_url=rp.url, headers={"host": "faults.control", "x-fault-token": TOKEN},
                          timeout=5) as c:
            assert [r for r in c.get("/rules").json()["rules"] if r["source"] == "runtime"] == []  # teardown
    recs = [r for r in report.read(rep) if "/api/" in r["url"]]  # the proxy has stopped: every record is written
    codes = {r["k6_error_code"] for r in recs}
    assert 1503 in codes and 0 in codes, codes
    assert all(r["fault"] == "delay ms=300" for r in recs if "/api/slow" in r["url"])

    for path in (k6json, rep):
        out = subprocess.run([sys.executable, "-m", "faults", "report", str(path), "--format", "json"],
                             cwd=root, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "1503" in out.stdout, out.stdout[:2000]
        json.loads(out.stdout)


def test_expect_over_http_after_a_real_client_hit_faults(px, client, upstream):
    """What a Node or Java test suite does: set a fault, run its client (curl here), then ask
    the proxy whether the client saw what it expects; the same matcher as fault_proxy.expect."""
    import shutil
    import subprocess
    import threading

    if not shutil.which("curl"):
        pytest.skip("curl is not installed")
    auth = {"authorization": f"Bearer {TOKEN}"}
    assert client.post(f"{CONTROL}/rules", content="|~u /exp/reset|reset when=mid_body\n"
                       "|~u /exp/slow|delay ms=800\n", headers=auth).status_code == 200

    def curl(path):
        return subprocess.run(["curl", "-sS", "-m", "5", "-x", px.url, f"{upstream.url}{path}?size=20000"],
                              capture_output=True, text=True, timeout=10)

    got = curl("/exp/reset")
    assert got.returncode == 56, got.stderr  # what curl did; now what the proxy says it did
    r = client.get(f"{CONTROL}/expect", params={"client": "curl", "error": "56", "count": "1"}, headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["matched"] == 1 and r.json()["flows"][0]["fault"] == "reset when=mid_body"
    r = client.get(f"{CONTROL}/expect", params={"client": "node", "error": "ECONNRESET", "fault": "reset"},
                   headers=auth)
    assert r.status_code == 200 and r.json()["flows"][0]["client"]["error"] == "ECONNRESET", r.text
    r = client.post(f"{CONTROL}/expect", params={"client": "node", "error": "UND_ERR_SOCKET", "timeout": "0.3"},
                    headers=auth)
    assert r.status_code == 417, r.text
    assert r.json()["explanation"].startswith("expect(client='node', error='UND_ERR_SOCKET'): expected at least 1")
    assert "ECONNRESET" in r.json()["explanation"]  # the table shows what node would have reported

    # a flow still in flight: /expect waits for it (up to timeout)
    slow = threading.Thread(target=curl, args=("/exp/slow",))
    slow.start()
    try:
        r = client.get(f"{CONTROL}/expect", params={"url": "/exp/slow", "code": "0", "count": "1", "timeout": "4"},
                       headers=auth)
    finally:
        slow.join()
    assert r.status_code == 200 and r.json()["flows"][0]["fault"] == "delay ms=800", r.text
    assert client.get(f"{CONTROL}/expect", params={"cuont": "1"}, headers=auth).status_code == 400
