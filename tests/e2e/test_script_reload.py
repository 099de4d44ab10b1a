"""mitmproxy reloads a script whose file changed: the faults go on, with nothing broken.

A reload removed the old addon and could not register the new one ("An addon called
'faultworkers' already exists": the old children's names were dropped only in an async
``done`` that a reload never awaits), so every fault stopped, with a traceback in the log.
And the reload's ``done`` must not stop the proxy's servers, as the exit's does."""

from __future__ import annotations

import os
import time
import urllib.request

from faults.tools.launch import ADDON, ProxyProcess
from faults.tools.upstream import Upstream
from tests.waiting import wait_until


def _status_through(px: ProxyProcess, url: str) -> int:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": f"http://127.0.0.1:{px.port}"}))
    try:
        with opener.open(url, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_faults_go_on_after_a_script_reload(tmp_path):
    script = tmp_path / "faults_script.py"
    script.write_text(ADDON.read_text())
    with Upstream() as up:
        with ProxyProcess(addon=script, options={"faults": ["status code=503"]}) as px:
            assert _status_through(px, f"{up.url}/a?size=5") == 503
            later = time.time() + 5
            os.utime(script, (later, later))  # mitmproxy polls the file's mtime
            wait_until(lambda: px.log().count("faults: active:") >= 2, 30, "the reloaded addon's start line",
                       seen=lambda: px.log()[-2000:])
            assert _status_through(px, f"{up.url}/b?size=5") == 503
        log = px.log()
    assert px.proc.returncode == 0, log[-3000:]
    assert log.count(f"Loading script {script}") == 2, log[-3000:]
    for bad in ("Traceback", "already exists", "never awaited"):
        assert bad not in log, (bad, log[-3000:])
    assert log.count(" stopped.") == 1, log[-3000:]  # the servers stopped at the exit, not at the reload
