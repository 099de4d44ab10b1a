import os
import signal
import subprocess
import time

from faults.score import runner
from tests.waiting import wait_until


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_exit_stderr_tail_and_expansion():
    out = runner.run_command(["sh", "-c", 'for i in 1 2 3 4 5 6 7; do echo "line $i" >&2; done; exit 7'],
                             dict(os.environ), 5)
    assert out.exit_code == 7 and not out.hung and out.stderr_tail == [f"line {i}" for i in range(3, 8)]
    assert runner.expand(["$FAULTS_URL/x", "${FAULTS_URL}", "$FAULTS_URLS"], "http://h:1") == [
        "http://h:1/x", "http://h:1", "$FAULTS_URLS"]


def test_hung_group_killed_and_leftover_children_too(tmp_path, monkeypatch):
    started = []
    popen = subprocess.Popen
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: started.append(popen(*a, **k)) or started[-1])
    out = runner.run_command(["sh", "-c", "sleep 30"], dict(os.environ), 0.3)
    assert out.hung and out.exit_code is None and out.duration_ms >= 300
    assert started[0].returncode == -signal.SIGTERM  # killed at the timeout, not ended on its own 30 s later
    # CMD exits at once but leaves a child holding stderr: not a hang, and the child is gone
    pidfile = tmp_path / "pid"
    out = runner.run_command(["sh", "-c", f"sleep 30 & echo $! > {pidfile}; exit 0"], dict(os.environ), 5)
    assert out.exit_code == 0 and not out.hung  # a run that waited for the child would be hung at 5 s
    pid = int(pidfile.read_text())
    wait_until(lambda: not _alive(pid), 3, f"child {pid} to end")


def test_missing_command_and_callable():
    assert runner.run_command(["/nonexistent/cmd"], {}, 1).exit_code == 127
    assert runner.run_callable(lambda url: None, "http://u", 1).exit_code == 0
    failed = runner.run_callable(lambda url: 1 / 0, "http://u", 1)
    assert failed.exit_code == 1 and failed.stderr_tail == ["ZeroDivisionError: division by zero"]
    hung = runner.run_callable(lambda url: time.sleep(2), "http://u", 0.2)  # kept: the subject (a hung callable)
    assert hung.hung and hung.exit_code is None
