"""An HTTP/3 upload cut (``rst_stream when=mid_request``) whose whole upload arrived while the
stream waited for its ``requestheaders`` hook: mitmproxy queues the stream's events meanwhile,
the cut is asked for as the stream reads them, and no more data comes. Its RESET_STREAM and
STOP_SENDING must still go out then (they once waited for data that never came: curl and aioquic
hung until their own timeouts on a loaded machine, about one run of tests/e2e/test_http3.py in
three). A script's slow hook makes the wait certain here."""

from __future__ import annotations

import pytest

from faults.tools.launch import ProxyProcess
from faults.tools.upstream import Upstream
from tests.e2e.h3clients import aioquic_many, curl_many
from tests.e2e.waiting import by_case, wait_for_records

pytest.importorskip("curl_cffi")

SLOW_HOOK = '''
import asyncio

async def requestheaders(flow):
    if "slow-hook" in flow.request.path:
        await asyncio.sleep(0.5)  # the client sends its whole upload meanwhile
'''
SPEC = "rst_stream code=H3_REQUEST_CANCELLED when=mid_request after_bytes=1000"


def test_upload_cut_goes_out_when_the_upload_arrived_during_a_hook(tmp_path):
    script = tmp_path / "slow_hook.py"
    script.write_text(SLOW_HOOK)
    rep = tmp_path / "report.jsonl"
    got = {}
    with Upstream(tls=True) as up, ProxyProcess(
            mode=f"reverse:{up.url}", extra_args=["-s", str(script)],
            options={"fault_header": True, "fault_report": str(rep), "ssl_insecure": True}) as px:
        for name, drive in (("curl", curl_many), ("aioquic", aioquic_many)):
            # the cut stream and a sibling on the same connection; far from the clients' 10 s
            reqs = [(f"/w?size=10&case={name}-w", {}),
                    (f"/f?slow-hook&size=10&case={name}-f", {"x-fault": SPEC}, b"u" * 30_000)]
            got[name] = drive(px.port, px.ca_file, reqs, timeout=10)[1]
        recs = by_case(wait_for_records(rep, lambda rs: {"curl-f", "aioquic-f"} <= by_case(rs).keys(),
                                        "the two cut uploads' records"))
    # (the exit status: test_http3.py checks it; mitmdump's SIGSEGV at exit after HTTP/3 is its own issue)
    assert "Traceback" not in px.log(), px.log()[-3000:]
    for name, res in got.items():
        assert res[0] == "error" and res[1] not in (28, "timeout"), (name, res, px.log()[-2000:])
        rec = recs[f"{name}-f"][0]
        assert rec["outcome"]["event"] == "h3.reset_stream" and rec["facts"]["phase"] == "mid_request", rec
        assert rec["clients"][name]["error"] == res[1], (name, res, rec["clients"][name])
