"""The docs' recipes, run as written: httpx over HTTP/2 through the
proxy, a TLS fault in regular mode with mitmproxy's default connection
strategy, and mitmweb's command API with its login."""

import json
import shutil
import signal
import ssl
import subprocess
import sys
import time

import httpx
import pytest

from faults.tools.launch import ProxyProcess
from faults.tools.upstream import Upstream


class H2First(ssl.SSLContext):
    """docs/usage.md's recipe: httpx (httpcore) always offers ALPN http/1.1 before h2,
    and mitmproxy follows the client's order; offering h2 first gets HTTP/2."""

    def set_alpn_protocols(self, protocols):
        super().set_alpn_protocols(sorted(protocols, key=lambda p: p != "h2"))


def test_httpx_http2_recipe():
    with Upstream() as up, ProxyProcess(mode=f"reverse:{up.url}", options={"faults": "|~u /boom|status code=503"}) as px:
        url = f"https://127.0.0.1:{px.port}"
        plain = ssl.create_default_context(cafile=str(px.ca_file))
        with httpx.Client(http2=True, verify=plain) as c:
            assert c.get(f"{url}/x").http_version == "HTTP/1.1"  # http2=True alone: HTTP/1.1
        with pytest.raises(httpx.HTTPError):  # http1=False: h2 spoken on an HTTP/1.1 connection
            with httpx.Client(http1=False, http2=True, verify=plain, timeout=3) as c:
                c.get(f"{url}/x")
        h2 = H2First(ssl.PROTOCOL_TLS_CLIENT)
        h2.load_verify_locations(px.ca_file)
        with httpx.Client(http2=True, verify=h2) as c:
            r = c.get(f"{url}/boom")
            assert (r.http_version, r.status_code) == ("HTTP/2", 503)


def test_tls_fault_in_regular_mode_with_the_default_connection_strategy():
    """docs/tls.md's first example: no connection_strategy=lazy needed."""
    rules = [r"/~d ^expired\.test$/tls cert=expired"]
    with ProxyProcess(options={"faults": rules, "connection_strategy": "eager"}) as px:
        trust = ssl.create_default_context(cafile=str(px.ca_file))
        with httpx.Client(proxy=px.url, verify=trust, timeout=5) as c:
            with pytest.raises(httpx.ConnectError, match="certificate has expired"):
                c.get("https://expired.test/")
            # a host no TLS rule selects keeps eager's behaviour: no such host, 502 on CONNECT
            with pytest.raises(httpx.ProxyError, match="502"):
                c.get("https://nothing-here.invalid/")


@pytest.mark.skipif(not shutil.which("curl"), reason="needs curl")
def test_mitmweb_command_api_recipe(tmp_path):
    """docs/testing.md: the mitmweb API needs the login (web_password as a Bearer
    token) and tornado's XSRF pair (any value, same in cookie and header)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        web_port = s.getsockname()[1]
    faults = [sys.executable, "-m", "faults", "web", "--no-web-open-browser", "--web-host", "127.0.0.1",
              "--web-port", str(web_port), "--listen-host", "127.0.0.1", "--listen-port", "0",
              "--set", f"confdir={tmp_path}", "--set", "web_password=s3cret"]
    proc = subprocess.Popen(faults, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        for line in proc.stdout:
            if "Web server listening" in line or time.monotonic() > deadline:
                break
        cmd = ["curl", "-s", "-H", "Authorization: Bearer s3cret", "-H", "X-XSRFToken: x",
               "-b", "_mitmproxy_xsrf=x", "-H", "Content-Type: application/json",
               "-d", json.dumps({"arguments": ["|~u /api/|status code=503"]}),
               f"http://127.0.0.1:{web_port}/commands/faults.set"]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        assert "error" not in json.loads(r.stdout), r.stdout
        listed = subprocess.run(cmd[:-3] + ["-d", '{"arguments": []}',
                                             f"http://127.0.0.1:{web_port}/commands/faults.list"],
                                capture_output=True, text=True, timeout=10)
        assert "status code=503" in listed.stdout, listed.stdout
        # without the password: 403
        r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                            f"http://127.0.0.1:{web_port}/commands/faults.list"],
                           capture_output=True, text=True, timeout=10)
        assert r.stdout == "403"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
