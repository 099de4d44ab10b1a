"""The control endpoint through a real mitmdump, with a real HTTP client (httpx)."""

import time

import httpx
import pytest

from faults import report
from faults.launch import ProxyProcess

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
    listing = client.get(f"{CONTROL}/").json()
    assert listing["rules"][0]["source"] == "runtime" and listing["seed"] == 11

    hit = client.get(f"{upstream.url}/api/x")
    assert hit.status_code == 503 and hit.headers["retry-after"] == "1"
    assert client.get(f"{upstream.url}/other").status_code == 200

    stats = client.get(f"{CONTROL}/stats").json()
    assert stats["rules"][0]["applied"] == 1 and stats["codes"].get("1503") == 1

    assert client.delete(f"{CONTROL}/rules", headers={"x-fault-token": TOKEN}).status_code == 200
    assert client.get(f"{upstream.url}/api/x").status_code == 200

    time.sleep(0.3)
    recs = [r for r in report.read(px.report_path) if "/api/x" in r["url"]]
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


def test_off_by_default_not_reachable(upstream):
    """Endpoint off: a request to the reserved host goes upstream like any other (and fails: no such host)."""
    with ProxyProcess(options={"fault_control_token": TOKEN}) as p:
        with httpx.Client(proxy=p.url, timeout=10) as c:
            r = c.get(f"{CONTROL}/")
            assert r.status_code == 502 and "rules" not in r.text
            r = c.post(f"{CONTROL}/rules", content="status code=503", headers={"x-fault-token": TOKEN})
            assert r.status_code == 502
            assert c.get(f"{upstream.url}/x").status_code == 200  # no fault was set
