"""``faults proxy --workers N``: N mitmdump workers behind one port, and their supervisor.

The supervisor (this module, no mitmproxy inside) makes a private directory,
starts worker 0 (``mitmdump -s <addon> ARGS --set server=false --set
fault_worker=0 --set fault_worker_dir=DIR``), waits until it listens (its
``ready-0`` file; its port in ``listen``), then starts workers 1 .. N-1 on the
same port (SO_REUSEPORT, ``faults.wire.listen``) and prints one line::

    faults: workers: 2 ready, listening at 127.0.0.1:8080 (pids 123 124)

Starting worker 0 alone first also means a bad option or plan is said once,
and the supervisor exits with that worker's status (1).

- SIGINT or SIGTERM to the supervisor: SIGINT to every worker (mitmdump's clean
  shutdown: held flows released and reported), SIGKILL for any still running
  after ``STOP_TIMEOUT``; exit 0 when every worker exited cleanly.
- A worker that exits on its own is reported and the others are stopped; the
  supervisor exits 1. Not restarted, on purpose: a restarted worker starts its
  draws and per-worker counts again, so the run would no longer be the
  reproducible one, and a test run should notice a crashed proxy.
- The workers share the supervisor's stdout/stderr and process group (Ctrl-C
  reaches them all; mitmdump's shutdown is idempotent) and die with it
  (``PR_SET_PDEATHSIG``) if it is killed.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from faults import numbers
from faults.errors import SpecError

READY = "faults: workers: "
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


class UsageError(ValueError):
    pass


def take_workers(argv: list[str]) -> tuple[int | None, list[str]]:
    """``--workers N`` (or ``--workers=N``) out of a ``faults proxy`` command line:
    (N or None, the other arguments, for mitmdump)."""
    n, rest, i = None, [], 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--workers" or arg.startswith("--workers="):
            if arg == "--workers":
                if i + 1 >= len(argv):
                    raise UsageError("--workers: expected a number of workers (a whole number >= 1)")
                value, i = argv[i + 1], i + 2
            else:
                value, i = arg.split("=", 1)[1], i + 1
            try:
                n = numbers.plain(value, "--workers", 1, 256)
            except SpecError as e:
                raise UsageError(str(e)) from None
            continue
        rest.append(arg)
        i += 1
    return n, rest


def _sets(args: list[str]):
    """(index, length, option name) of each ``--set NAME=V`` / ``--set=NAME=V`` in ``args``."""
    i = 0
    while i < len(args):
        if args[i] == "--set" and i + 1 < len(args):
            yield i, 2, args[i + 1].split("=", 1)[0]
            i += 2
            continue
        if args[i].startswith("--set="):
            yield i, 1, args[i][6:].split("=", 1)[0]
        i += 1


def has_set(args: list[str], name: str) -> bool:
    return any(n == name for _, _, n in _sets(args))


def drop_sets(args: list[str], names) -> list[str]:
    """``args`` without any ``--set`` of ``names`` (the supervisor sets those)."""
    skip = {j for i, n, name in _sets(args) if name in names for j in range(i, i + n)}
    return [a for j, a in enumerate(args) if j not in skip]


def _die_with_parent() -> None:  # runs in the child before exec
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class Supervisor:
    def __init__(self, n: int, args: list[str], exe: str | None = None, addon: Path | None = None):
        from faults.tools.launch import ADDON, mitmdump_path

        self.n = n
        self.args = list(args)
        self.exe = exe or mitmdump_path()
        self.addon = addon or ADDON
        self.dir: Path | None = None
        self.procs: dict[str, subprocess.Popen] = {}
        self._signal: int | None = None

    def worker_args(self, wid: str) -> list[str]:
        """mitmdump's command line for worker ``wid``. Each option is set once: mitmproxy
        12.3 mishandles a script option ``--set`` twice (the script's ``running`` never runs)."""
        forced = {"server": "false", "fault_worker": wid, "fault_worker_dir": str(self.dir)}
        defaults = {"fault_status": "false"}  # N live status lines would overwrite each other
        user = drop_sets(self.args, forced)
        ours = {**{k: v for k, v in defaults.items() if not has_set(user, k)}, **forced}
        return [self.exe, "-s", str(self.addon), *user, *(a for k, v in ours.items() for a in ("--set", f"{k}={v}"))]

    def say(self, text: str) -> None:
        print(text, flush=True)

    def _on_signal(self, signum, frame) -> None:
        self._signal = signum

    def run(self) -> int:
        self.dir = Path(tempfile.mkdtemp(prefix="faults-workers-"))
        old = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            return self._run()
        finally:
            self._stop_all()
            for s, h in old.items():
                signal.signal(s, h)
            shutil.rmtree(self.dir, ignore_errors=True)

    def _start(self, wid: str) -> None:
        self.procs[wid] = subprocess.Popen(self.worker_args(wid), preexec_fn=_die_with_parent)

    def _wait_ready(self, ids: list[str]) -> int | None:
        """None once every worker in ``ids`` is ready; else the exit status to leave with."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._signal is not None:
                return 0
            for wid in ids:
                rc = self.procs[wid].poll()
                if rc is not None:
                    self.say(f"faults: workers: worker {wid} exited with status {rc} while starting")
                    return rc or 1
            if all((self.dir / f"ready-{wid}").exists() for wid in ids):
                return None
            time.sleep(0.05)
        self.say(f"faults: workers: not every worker was ready after {START_TIMEOUT:.0f} s")
        return 1

    def _run(self) -> int:
        self._start("0")
        rc = self._wait_ready(["0"])
        if rc is not None:
            return rc
        rest = [str(i) for i in range(1, self.n)]
        for wid in rest:
            self._start(wid)
        rc = self._wait_ready(rest)
        if rc is not None:
            return rc
        host, port = (self.dir / "listen").read_text().split()
        pids = " ".join(str(p.pid) for p in self.procs.values())
        self.say(f"{READY}{self.n} ready, listening at {host}:{port} (pids {pids})")
        while self._signal is None:
            for wid, proc in self.procs.items():
                rc = proc.poll()
                if rc is not None:
                    self.say(f"faults: workers: worker {wid} (pid {proc.pid}) exited with status {rc}; "
                             "stopping the other workers (workers are not restarted)")
                    return 1
            time.sleep(0.1)
        return 0 if self._stop_all() else 1

    def _stop_all(self) -> bool:
        """Stop every running worker; True when each one exited with status 0."""
        live = [p for p in self.procs.values() if p.poll() is None]
        for p in live:
            try:
                p.send_signal(signal.SIGINT)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + STOP_TIMEOUT
        for p in live:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say(f"faults: workers: pid {p.pid} did not stop within {STOP_TIMEOUT:.0f} s: killed")
                p.kill()
                p.wait(5)
        return all(p.returncode == 0 for p in self.procs.values())


def main(n: int, args: list[str]) -> int:
    return Supervisor(n, args).run()
