"""`mitmdump -q` (termlog_verbosity=error) still shows a refused plan edit and a
vanished plan file; the last good plan keeps serving and the next good edit loads."""

import os
import signal
import socket
import subprocess
import threading

import httpx

from faults.tools.launch import ADDON, mitmdump_path

from .waiting import wait_until


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status(url):
    try:
        return httpx.get(url, timeout=3, trust_env=False).status_code
    except httpx.HTTPError:
        return None


def test_quiet_mitmdump_shows_refused_edits_and_a_vanished_plan(tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text("rules:\n  - fault: status code=501\n")
    port = free_port()
    args = [mitmdump_path(), "-q", "--mode", "reverse:http://127.0.0.1:9", "--listen-host", "127.0.0.1",
            "--listen-port", str(port), "--set", f"confdir={tmp_path}", "-s", str(ADDON),
            "--set", f"fault_plan={plan}", "--set", "connection_strategy=lazy"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"), start_new_session=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(line.rstrip() for line in proc.stdout), daemon=True)
    reader.start()
    url = f"http://127.0.0.1:{port}/x"
    try:
        wait_until(lambda: status(url) == 501, 10, "the plan's 501", seen=lambda: lines[-20:])
        plan.write_text("rules:\n  - fault: {kind: status, code: 503.9}\n")
        wait_until(lambda: any("fault plan not reloaded" in line for line in lines), 10, "the refused edit in the log",
                   seen=lambda: lines[-20:])
        assert any("code=503.9: expected a whole number" in line for line in lines)
        assert status(url) == 501  # the last good plan
        plan.unlink()
        wait_until(lambda: any("is gone" in line for line in lines), 10, "the vanished plan in the log",
                   seen=lambda: lines[-20:])
        assert status(url) == 501
        plan.write_text("rules:\n  - fault: status code=502\n")
        wait_until(lambda: status(url) == 502, 10, "the next good plan's 502", seen=lambda: lines[-20:])
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        reader.join(5)
    assert not any("Traceback" in line for line in lines), lines
