"""The core faults seen by other real clients (curl, httpx), both proxy modes,
natural outcomes (no fault) and bad input at the process level."""

import socket
import subprocess

import httpx
import pytest

from faults.tools import k6run
from faults.tools.launch import ProxyProcess
from faults.tools.upstream import Upstream

from .waiting import (any_record, metrics_url, records_by_case, reported, scrape, tcp_connections,
                      wait_until)

# fault -> (curl exit code, httpx exception or status, k6 code we annotate)
CURL_HTTPX = {
    "status code=503": (22, 503, 1503),
    "reset when=before_response": (56, httpx.ReadError, 1220),
    "reset when=mid_body": (56, httpx.ReadError, 1220),
    "close when=before_response": (52, httpx.RemoteProtocolError, 1000),
    "close when=mid_body": (18, httpx.RemoteProtocolError, 1000),
    "truncate": (18, httpx.RemoteProtocolError, 1000),
    "bad_gzip": (61, httpx.DecodingError, 1701),
}


@pytest.mark.parametrize("spec", CURL_HTTPX)
def test_curl_and_httpx_see_the_fault_we_annotate(proxy, spec):
    curl_exit, httpx_expect, code = CURL_HTTPX[spec]
    case = "curl-" + spec.replace(" ", "_").replace("=", "-")
    url = f"http://127.0.0.1:{proxy.port}/c?case={case}&size=20000"
    r = subprocess.run(["curl", "-sS", "-f", "--compressed", "-m", "5", "-o", "/dev/null", "-H", f"x-fault: {spec}", url],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == curl_exit, r.stderr
    hcase = "httpx-" + case
    with httpx.Client(timeout=5) as client:
        if isinstance(httpx_expect, int):
            assert client.get(url.replace(case, hcase), headers={"x-fault": spec}).status_code == httpx_expect
            raised = None
        else:
            with pytest.raises(httpx_expect) as info:
                client.get(url.replace(case, hcase), headers={"x-fault": spec}).read()
            raised = info.value
    recs = records_by_case(proxy, [case, hcase], any_record)
    assert [r["k6_error_code"] for r in recs[case]] == [code]
    assert recs[hcase][-1]["k6_error_code"] == code
    # the curl and httpx profiles predicted what the real clients did (curl ran with --fail)
    want = recs[case][0]["clients"]["curl"]
    assert r.returncode == want.get("fail_exit", want["error"]) and want["message"] in r.stderr, (want, r.stderr)
    want = recs[hcase][-1]["clients"]["httpx"]
    assert want["error"] == (type(raised).__name__ if raised else None), (want, raised)
    if raised is not None:
        assert want["message"] in str(raised), (want, raised)


def test_httpx_timeout_on_hang_is_classified_as_client_gave_up(proxy):
    with httpx.Client(timeout=0.5) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.get(f"http://127.0.0.1:{proxy.port}/h?case=httpx-hang", headers={"x-fault": "hang"})
    (rec,) = records_by_case(proxy, ["httpx-hang"], any_record)["httpx-hang"]
    assert rec["k6_error_code"] == 1050 and rec["facts"]["client_gave_up"] is True


def test_natural_outcomes_match_k6(proxy, tmp_path):
    """No fault injected: upstream statuses, a slow upstream the client gives up on,
    a healthy gzip body, and an unreachable upstream behind a second proxy."""
    base = f"http://127.0.0.1:{proxy.port}/n"
    cases = [
        {"id": "n503", "url": f"{base}?case=n503&status=503"},
        {"id": "n404", "url": f"{base}?case=n404&status=404"},
        {"id": "ngzip", "url": f"{base}?case=ngzip&gzip=1&size=5000"},
        {"id": "nchunked", "url": f"{base}?case=nchunked&chunked=1&size=5000"},
        {"id": "nslow", "url": f"{base}?case=nslow&ms=3000", "timeout": "1s"},
    ]
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead_port = dead.getsockname()[1]
    dead.close()
    rep = tmp_path / "dead.jsonl"
    with ProxyProcess(mode=f"reverse:http://127.0.0.1:{dead_port}", options={"fault_report": str(rep)}) as dead_px:
        cases.append({"id": "nrefused", "url": f"http://127.0.0.1:{dead_px.port}/n?case=nrefused"})
        got = k6run.run(cases)
    ours = records_by_case(proxy, [c["id"] for c in cases if c["id"] != "nrefused"], reported(got))
    from faults import report

    ours["nrefused"] = report.read(rep)  # its proxy has stopped: every record is written
    for c in cases:
        assert ours[c["id"]][-1]["k6_error_code"] == got[c["id"]]["error_code"], (c, got[c["id"]], ours[c["id"]])
        assert ours[c["id"]][-1]["fault"] is None
    assert [got[i]["error_code"] for i in ("n503", "n404", "ngzip", "nslow", "nrefused")] == [1503, 1404, 0, 1050, 1502]


def test_regular_proxy_mode_http_and_https(tmp_path):
    """HTTP_PROXY/HTTPS_PROXY with CONNECT; k6 negotiates h2 inside the tunnel.
    Go never proxies localhost, so k6 asks for demo.test and mitmproxy's own
    map_remote sends it to 127.0.0.1."""
    rep = tmp_path / "r.jsonl"
    with Upstream(tls=True) as tls_up, Upstream() as plain_up:
        opts = {"fault_header": True, "fault_report": str(rep), "ssl_insecure": True,
                "map_remote": "|//demo.test:|//127.0.0.1:"}
        with ProxyProcess(mode="regular", options=opts) as px:
            env = {"HTTPS_PROXY": px.url, "HTTP_PROXY": px.url, "SSL_CERT_FILE": str(px.ca_file)}
            cases = [
                {"id": "ok-https", "url": f"https://demo.test:{tls_up.port}/m?size=100"},
                {"id": "reset-https", "url": f"https://demo.test:{tls_up.port}/m", "headers": {"x-fault": "reset when=mid_body"}},
                {"id": "ok-http", "url": f"http://demo.test:{plain_up.port}/m?size=100"},
                {"id": "status-http", "url": f"http://demo.test:{plain_up.port}/m", "headers": {"x-fault": "status code=502"}},
                # HTTP/2 frames inside the CONNECT tunnel: its own HTTP layer runs them (faults.wire.stack)
                {"id": "rst-https", "url": f"https://demo.test:{tls_up.port}/m",
                 "headers": {"x-fault": "rst_stream code=CANCEL when=before_response"}},
                {"id": "goaway-https", "url": f"https://demo.test:{tls_up.port}/m",
                 "headers": {"x-fault": "goaway code=ENHANCE_YOUR_CALM last_stream=this then=close"}},
            ]
            got = k6run.run(cases, env=env)
    from faults import report

    recs = [r for r in report.read(rep)]
    assert [r["k6_error_code"] for r in recs] == [got[c["id"]]["error_code"] for c in cases] == \
        [0, 1220, 0, 1502, 1639, 1622]
    assert [r["outcome"]["event"] for r in recs[4:]] == ["h2.rst_stream", "h2.goaway"]
    assert got["ok-https"]["proto"] == "HTTP/2.0" and recs[0]["http_version"] == "HTTP/2.0"


def test_bad_plan_stops_mitmdump_with_a_clear_message(tmp_path):
    bad = tmp_path / "plan.yaml"
    bad.write_text("seed: 1\nrules:\n  - match: '~u /a'\n    fault: status code=200\n  - match: '~u /b'\n    fault: reset when=soon\n")
    px = ProxyProcess(options={"fault_plan": str(bad)})
    with pytest.raises(RuntimeError) as e:
        px.start(timeout=20)
    out = str(e.value)
    assert "plan.yaml: rule 2 (line 5): when='soon': expected one of before_response, after_headers, mid_body" in out
    assert "Traceback" not in out


def test_bad_faults_option_is_reported_with_its_entry():
    px = ProxyProcess(options={"faults": ["|~u /a|status code=503", "|~u /b|delay ms=fast"]})
    with pytest.raises(RuntimeError) as e:
        px.start(timeout=20)
    assert "faults option entry 1" in str(e.value) and "ms='fast': expected a whole number" in str(e.value)
    assert "Traceback" not in str(e.value)


def test_shutdown_releases_held_flows_cleanly(upstream, tmp_path):
    """A hang held at shutdown is released, reported once, and mitmproxy exits
    without the CancelledError traceback an open connection would print."""
    from faults import report

    rep = tmp_path / "r.jsonl"
    px = ProxyProcess(mode=f"reverse:{upstream.url}", options={"fault_header": True, "fault_report": str(rep),
                                                               "fault_metrics": "127.0.0.1:0"}).start()
    held = subprocess.Popen(["curl", "-s", "-m", "30", "-H", "x-fault: hang", f"http://127.0.0.1:{px.port}/held"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    idle = socket.create_connection(("127.0.0.1", px.port))  # an idle client connection too
    try:
        url = metrics_url(px)  # both connections accepted, the hang held (faults_active counts its flow)
        wait_until(lambda: tcp_connections(px.proc.pid) >= 2
                   and sum(v for (name, _), v in scrape(url).items() if name == "faults_active") == 1, 15,
                   "both client connections accepted and the hang held (faults_active 1)")
        assert px.stop() == 0
        assert held.wait(10) is not None
    finally:
        held.kill()
        idle.close()
    assert "Traceback" not in px.log() and "CancelledError" not in px.log(), px.log()[-2000:]
    (rec,) = report.read(rep)
    assert rec["fault"] == "hang" and rec["facts"]["released_at_shutdown"] is True
