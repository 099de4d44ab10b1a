"""Option fault_prefer_h2 with a real client that offers http/1.1 before h2 (httpx with
http2=True), in front of the test upstream, which speaks HTTP/1.1 only, over plain HTTP and
over TLS (where mitmproxy connects to it first and would mirror its http/1.1 to the client):
with the option the client gets HTTP/2 and the request still reaches the upstream; without
it, HTTP/1.1 (mitmproxy follows the client's order)."""

from __future__ import annotations

import ssl

import httpx
import pytest

from faults import report
from faults.tools.launch import ProxyProcess
from faults.tools.upstream import Upstream


@pytest.fixture(scope="module", params=[False, True], ids=["plain-upstream", "tls-upstream"])
def upstream_any(request):
    with Upstream(tls=request.param) as up:
        yield up


@pytest.mark.parametrize("prefer,want", [(True, "HTTP/2"), (False, "HTTP/1.1")], ids=["on", "off"])
def test_client_offering_h2_second_gets_h2_with_the_option(upstream_any, tmp_path, prefer, want):
    rep = tmp_path / "report.jsonl"
    opts = {"fault_prefer_h2": prefer, "ssl_insecure": True, "fault_report": str(rep), "fault_header": True}
    with ProxyProcess(mode=f"reverse:{upstream_any.url}", options=opts) as px:
        with httpx.Client(http2=True, verify=ssl.create_default_context(cafile=str(px.ca_file)), timeout=5) as c:
            r = c.get(f"https://127.0.0.1:{px.port}/ok?size=1000")
            assert (r.http_version, r.status_code, len(r.content)) == (want, 200, 1000)
            # a fault on that connection: the annotation is made for the protocol the client speaks
            with pytest.raises(httpx.RemoteProtocolError):
                c.get(f"https://127.0.0.1:{px.port}/rst", headers={"x-fault": "rst_stream code=CANCEL"})
    recs = {r["url"].split("?")[0].rsplit("/", 1)[1]: r for r in report.read(rep) if r.get("record") == "flow"}
    assert recs["ok"]["http_version"] == want.replace("HTTP/2", "HTTP/2.0") and recs["ok"]["status"] == 200
    if prefer:
        assert recs["rst"]["outcome"]["event"] == "h2.rst_stream", recs["rst"]
        assert recs["rst"]["clients"]["httpx"]["error"] == "RemoteProtocolError"
