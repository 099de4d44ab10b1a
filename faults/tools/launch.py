"""Start mitmdump with the fault addon (``faults/addon.py``) as a subprocess on a free port.

Used by the demo, the end-to-end tests, the pytest plugin and the benchmarks.
The port is read back from mitmdump's own "listening at" log line, so nothing
ever binds a fixed port.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# The script inside the package, so an installed copy finds its own addon (a
# checkout's addons/errors.py loads this same file).
ADDON = Path(__file__).resolve().parents[1] / "addon.py"
ACTIVE = "faults: active: "  # faults.addons.startup's line
# faults.tools.workers' line once every worker listens; found anywhere in a line: the workers
# share its stdout, and an unbuffered print writes a line's newline apart, so a worker's line
# can end right before it ("... control endpoint offfaults: workers: 2 ready, ...")
WORKERS_READY_RE = re.compile(r"faults: workers: \d+ ready, listening at \S+ \(pids ([\d ]+)\)")
# A process that dies of one of these crashed (SIGKILL is ours, after a shutdown timeout).
CRASH_SIGNALS = {signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS, signal.SIGILL, signal.SIGFPE}
LISTEN_RE = re.compile(r"^(?!.*DNS server).*listening at (?:\*|[\d.]+|\[[^\]]*\]):(\d+)")  # the HTTP listener


def tool_path(name: str) -> str:
    """mitmdump/mitmweb of this Python's environment (the one that has mitmproxy and us)."""
    exe = Path(sys.executable).with_name(name)
    return str(exe) if exe.exists() else (shutil.which(name) or name)


def mitmdump_path() -> str:
    return tool_path("mitmdump")


class ProxyCrashed(RuntimeError):
    """mitmdump died of a signal (SIGSEGV, SIGABRT, ...), not of our stop."""


class ProxyProcess:
    def __init__(
        self,
        mode: str = "regular",
        options: dict | None = None,
        confdir: str | Path | None = None,
        addon: Path | None = ADDON,
        extra_args: list[str] | None = None,
        workers: int = 1,
    ):
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers={workers!r}: expected a whole number >= 1")
        self.workers = workers
        self.mode = mode
        self.options = dict(options or {})
        self._tmp = None
        if confdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="faults-proxy-")
            confdir = self._tmp.name
        self.confdir = Path(confdir)
        self.addon = addon
        self.extra_args = extra_args or []
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self.lines: list[str] = []
        self._ready = threading.Event()
        self._crash_told = False

    @property
    def ca_file(self) -> Path:
        return self.confdir / "mitmproxy-ca-cert.pem"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def args(self) -> list[str]:
        """mitmdump's command line; with ``workers`` > 1, ``faults proxy --workers N`` with the
        same arguments (it loads the addon itself)."""
        if self.workers > 1:
            if self.addon != ADDON:
                raise ValueError("workers > 1 runs the package's own addon (faults proxy --workers N)")
            return [sys.executable, "-m", "faults", "proxy", "--workers", str(self.workers),
                    *self._mitmdump_args()[1:]]
        return self._mitmdump_args()

    def _mitmdump_args(self) -> list[str]:
        args = [mitmdump_path(), "--mode", self.mode, "--listen-host", "127.0.0.1", "--listen-port", "0",
                "--set", f"confdir={self.confdir}", "--flow-detail", "0"]
        if "connection_strategy" not in self.options:
            args += ["--set", "connection_strategy=lazy"]
        if self.addon and self.workers == 1:
            args += ["-s", str(self.addon)]
        for key, value in self.options.items():
            values = value if isinstance(value, (list, tuple)) else [value]
            for v in values:
                if isinstance(v, bool):
                    v = str(v).lower()
                args += ["--set", f"{key}={v}"]
        return args + self.extra_args

    def start(self, timeout: float = 30) -> "ProxyProcess":
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env.setdefault("PYTHONFAULTHANDLER", "1")  # a crash prints every thread's stack into the log
        self.proc = subprocess.Popen(
            self.args(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()
        # Up once the proxy listens and the addon said what is active (it logs
        # that only when start-up found no error; errors make mitmdump exit).
        deadline = time.monotonic() + timeout
        ready_at = None
        while time.monotonic() < deadline and self.proc.poll() is None:
            if ready_at is None and self._ready.wait(0.05):
                ready_at = time.monotonic()
            if ready_at is not None and self.workers > 1:
                # each worker says it listens and what is active; the supervisor's line: all are up
                if any(WORKERS_READY_RE.search(ln) for ln in self.lines):
                    return self
                time.sleep(0.05)
            elif ready_at is not None:
                if any("Error logged during startup" in ln for ln in self.lines):
                    try:
                        self.proc.wait(5)  # it is exiting: keep its own exit status
                    except subprocess.TimeoutExpired:
                        pass
                    break
                if any(ACTIVE in ln for ln in self.lines) or (
                        self.addon != ADDON and time.monotonic() - ready_at > 0.3):
                    return self
                if time.monotonic() - ready_at > 3:  # e.g. -q hides the info line
                    return self
                time.sleep(0.05)
        out = "\n".join(self.lines[-30:])
        self.stop(check=False)
        raise RuntimeError(f"mitmdump did not start (exit {self.proc.returncode}):\n{out}")

    def _pump(self):
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            if self.port is None:
                m = LISTEN_RE.search(line)
                if m:
                    self.port = int(m.group(1))
                    self._ready.set()

    def log(self) -> str:
        return "\n".join(self.lines)

    def worker_pids(self) -> list[int]:
        """The mitmdump processes serving the port: the workers' (from the supervisor's
        ready line) with ``workers`` > 1, else mitmdump itself."""
        if self.workers == 1:
            return [self.proc.pid]
        m = next(m for ln in self.lines if (m := WORKERS_READY_RE.search(ln)))
        return [int(p) for p in m.group(1).split()]

    def stop(self, timeout: float = 10, check: bool = True) -> int | None:
        """SIGINT, then SIGKILL after ``timeout``; the exit status. A crash (mitmdump died
        of SIGSEGV, SIGABRT, ...: never silent) raises ``ProxyCrashed`` with its log's
        tail (a faulthandler trace under PYTHONFAULTHANDLER=1), once."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if getattr(self, "_reader", None) is not None:
            self._reader.join(5)  # so log() holds everything mitmdump printed
        if self._tmp:
            self._tmp.cleanup()
            self._tmp = None
        rc = self.proc.returncode if self.proc else None
        if check and rc is not None and -rc in CRASH_SIGNALS and not self._crash_told:
            self._crash_told = True
            raise ProxyCrashed(f"mitmdump died of {signal.Signals(-rc).name} (exit {rc}):\n"
                               + "\n".join(self.lines[-60:]))
        return rc

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


CONTROL = "http://faults.control"  # faults.addons.control.CONTROL_HOST, as a base URL


class ControlledProxy:
    """A ProxyProcess with the control endpoint on (a token only its owner knows) and its own
    JSONL report: its owner changes the runtime rules between runs (``control``) and reads
    the records written since ``mark`` (``records``). Used by the pytest plugin and faults score."""

    def __init__(self, mode: str, seed, token: str, workdir: Path, confdir: Path | None, name: str,
                 workers: int = 1, options: dict | None = None, spec_error: type[Exception] = ValueError):
        self.report_path = Path(workdir) / f"report-{name}.jsonl"
        self.report_path.touch()
        self.token = token
        self.mode = mode
        self.spec_error = spec_error  # raised for a rule the proxy refused (HTTP 400)
        self.px = ProxyProcess(mode=mode, confdir=confdir, options={
            "fault_control": True, "fault_control_token": token, "fault_seed": seed,
            "fault_report": str(self.report_path), "fault_status": False,
            # reverse mode: keep the Host header so the control host is recognised (see faults.addons.control)
            **({} if mode.startswith("regular") else {"keep_host_header": True}),
            **(options or {}),
        }, workers=workers)
        self._offset = 0

    def start(self) -> "ControlledProxy":
        self.px.start()
        return self

    @property
    def url(self) -> str:
        return self.px.url

    @property
    def port(self) -> int:
        return self.px.port

    def control(self, method: str, path: str, body: str | None = None, ctype: str = "text/plain") -> dict:
        import json
        import urllib.error
        import urllib.request

        data = body.encode() if body is not None else None
        if self.mode.startswith("regular"):  # through the proxy, like any client would
            req = urllib.request.Request(CONTROL + path, data=data, method=method)
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": self.url}))
        else:  # reverse proxy: the reserved name in the Host header
            req = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
            req.add_header("Host", CONTROL.split("//")[1])
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", ctype)
        try:
            with opener.open(req, timeout=10) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as e:
            text = e.read().decode(errors="replace")
            try:
                msg = json.loads(text)["error"]
            except (ValueError, KeyError):
                msg = text
            if e.code == 400:
                raise self.spec_error(msg) from None
            raise RuntimeError(f"fault control {method} {path}: HTTP {e.code}: {msg}") from None

    def mark(self) -> None:
        self._offset = self.report_path.stat().st_size

    def records(self) -> list[dict]:
        """The report records written since ``mark``, the control endpoint's own left out."""
        from faults import report

        out = []
        for rec in report.read_from(self.report_path, self._offset)[0]:
            if "://faults.control" in (rec.get("url") or ""):
                continue
            rec["proxy"] = self.mode
            out.append(rec)
        return out

    def stop(self) -> None:
        self.px.stop()
