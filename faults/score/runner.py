"""Run CMD (or a Python callable) once per fault through one proxy, and make each run a row.

One proxy serves the whole score run (``ControlledProxy``: mitmdump with the control
endpoint on and its own report): between runs only its runtime rule changes (``POST
/rules``), so a run costs CMD's own time. By default the proxy is a reverse proxy in front
of the embedded upstream (``faults.tools.upstream``) or ``--upstream URL``; in proxy mode
it is a regular proxy and CMD gets ``HTTP_PROXY``/``HTTPS_PROXY``. A run's attempts are the
report records written after its start whose request started during it.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from faults.score import observe
from faults.score.suite import Entry
from faults.tools.launch import ControlledProxy

STDERR_LINES = 5  # the stderr tail kept per row
SETTLE_S = 0.15  # no new record for this long: the run's records are in
SETTLE_MAX_S = 8.0  # at most this long after CMD ended (a delay fault may still be holding a request)
CA_VARS = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS")
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")
# $FAULTS_URL / ${FAULTS_URL} in CMD's arguments (quoted against the caller's shell) is replaced
URL_VAR = re.compile(r"\$(?:\{FAULTS_URL\}|FAULTS_URL\b)")


@dataclass
class Options:
    upstream: str | None = None  # the user's service; None: the embedded upstream
    proxy_mode: bool = False  # regular proxy + HTTP(S)_PROXY instead of a reverse proxy
    tls: bool = False  # https FAULTS_URL, HTTP/2 offered
    timeout: float = 10.0  # per run; then CMD is killed and the row is hung
    seed: int = 1


@dataclass
class Outcome:
    """What the process (or callable) did: exit status, hang, time, stderr tail."""

    exit_code: int | None
    hung: bool
    duration_ms: int
    stderr_tail: list[str] = field(default_factory=list)


class Session:
    """The proxy (and embedded upstream) of one score run; ``run`` is one row."""

    def __init__(self, options: Options, workdir: str | Path | None = None):
        self.options = options
        self._tmp = None
        if workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="faults-score-")
            workdir = self._tmp.name
        self.workdir = Path(workdir)
        self.upstream = None
        self.proxy: ControlledProxy | None = None
        self.baseline_sent: Counter | None = None

    # -- lifecycle ---------------------------------------------------------------
    def start(self) -> "Session":
        o = self.options
        target = o.upstream
        if target is None:
            from faults.tools.upstream import Upstream

            # proxy mode + --tls: the upstream itself speaks TLS (CONNECT, then the proxy's certificate)
            self.upstream = Upstream(tls=o.tls and o.proxy_mode).start()
            target = self.upstream.url
        self.target = target.rstrip("/")
        options = {"fault_prefer_h2": True} if o.tls else {}
        if self.upstream is not None and self.upstream.tls:
            options["ssl_insecure"] = True  # our own throwaway upstream certificate
        mode = "regular" if o.proxy_mode else f"reverse:{self.target}"
        self.proxy = ControlledProxy(mode, o.seed, secrets.token_urlsafe(16), self.workdir, None, "score",
                                     options=options)
        try:
            self.proxy.start()
        except Exception:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.proxy is not None:
            self.proxy.stop()
        if self.upstream is not None:
            self.upstream.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- what CMD sees -------------------------------------------------------------
    @property
    def url(self) -> str:
        """FAULTS_URL: the reverse proxy (https with --tls), or the upstream in proxy mode."""
        if self.options.proxy_mode:
            return self.target
        return f"{'https' if self.options.tls else 'http'}://127.0.0.1:{self.proxy.port}"

    @property
    def ca_file(self) -> Path:
        return self.proxy.px.ca_file

    def env(self, base: dict | None = None) -> dict[str, str]:
        env = dict(os.environ if base is None else base)
        env["FAULTS_URL"] = self.url
        env.update({v: str(self.ca_file) for v in CA_VARS})
        for v in PROXY_VARS + ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
            env.pop(v, None)  # the caller's own proxy settings would take CMD elsewhere
        if self.options.proxy_mode:
            env.update({v: self.proxy.url for v in PROXY_VARS})
        return env

    # -- runs ------------------------------------------------------------------
    def apply(self, entry: Entry | None) -> None:
        """Make ``entry`` the only runtime rule (None: no fault, the baseline)."""
        if entry is None:
            self.proxy.control("DELETE", "/rules")
        else:
            self.proxy.control("POST", "/rules", entry.body, entry.ctype)

    def run(self, entry: Entry | None, target: Sequence[str] | Callable[[str], object]) -> dict:
        """One run: set the fault, run the target, read its attempts; returns the row (no verdict)."""
        self.apply(entry)
        self.proxy.mark()
        t0 = time.time()
        if callable(target):
            outcome = run_callable(target, self.url, self.options.timeout)
        else:
            outcome = run_command(expand(target, self.url), self.env(), self.options.timeout)
        records = self._settle(t0)
        wire = observe.observe(records, entry.retry_after_s if entry else None,
                               self.baseline_sent if entry else None)
        if entry is None:
            self.baseline_sent = Counter(observe.request_key(r) for r in observe.attempts_of(records)
                                         if r.get("method"))
        return {"fault": entry.label if entry else None, **wire, "exit_code": outcome.exit_code,
                "hung": outcome.hung, "duration_ms": outcome.duration_ms, "stderr_tail": outcome.stderr_tail}

    def _applied(self) -> int:
        """Selections of the runtime rule so far: each one ends in a record."""
        rules = self.proxy.control("GET", "/rules")["rules"]
        return sum(r.get("applied") or 0 for r in rules if r.get("source") == "runtime")

    def _settle(self, t0: float) -> list[dict]:
        """The run's records once they are all in: every faulted attempt the proxy counted has
        its record and nothing new came for SETTLE_S (bounded by SETTLE_MAX_S)."""
        deadline = time.monotonic() + SETTLE_MAX_S
        applied = self._applied()
        last, quiet_since = -1, time.monotonic()
        while True:
            recs = [r for r in self.proxy.records() if observe.start_of(r) >= t0 - 0.05]
            now = time.monotonic()
            if len(recs) != last:
                last, quiet_since = len(recs), now
            done = sum(1 for r in recs if r.get("fault")) >= applied
            if (done and now - quiet_since >= SETTLE_S) or now >= deadline:
                return recs
            time.sleep(0.05)


def expand(cmd: Sequence[str], url: str) -> list[str]:
    return [URL_VAR.sub(url, a) for a in cmd]


def run_command(cmd: list[str], env: dict, timeout: float) -> Outcome:
    """Run CMD in its own process group; past ``timeout`` the whole group is killed. Whatever
    CMD left running in its group when it exited is killed too: nothing of one run sends
    requests during the next. stderr goes to a file, so a child that inherited it cannot hold
    the run open."""
    t0 = time.monotonic()
    with tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=err, start_new_session=True)
        except OSError as e:
            return Outcome(127, False, 0, [f"cannot run {cmd[0]}: {e.strerror or e}"])
        hung = False
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            hung = True
        finally:  # also on Ctrl-C: CMD's group is not in our terminal's foreground group
            ms = round((time.monotonic() - t0) * 1000)
            _kill_group(proc)
        err.seek(0)
        text = err.read().decode(errors="replace")
    return Outcome(None if hung else proc.returncode, hung, ms, tail(text))


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 1 s, to CMD's process group, unless it is gone already."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            break
        deadline = time.monotonic() + 1
        while time.monotonic() < deadline and (proc.poll() is None or _group_alive(proc.pid)):
            time.sleep(0.02)
        if proc.poll() is not None and not _group_alive(proc.pid):
            break
    if proc.poll() is None:
        proc.wait(5)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def run_callable(fn: Callable[[str], object], url: str, timeout: float) -> Outcome:
    """Call ``fn(FAULTS_URL)`` in a thread: returning is exit 0, raising exit 1 (the exception
    is the stderr tail); past ``timeout`` the row is hung and the thread is left behind (a
    Python thread cannot be killed: make the callable's own timeouts finite)."""
    result: dict = {}

    def call():
        try:
            fn(url)
            result["code"] = 0
        except BaseException as e:  # the callable's failure is the row's data
            result["code"], result["err"] = 1, f"{type(e).__name__}: {e}"

    t0 = time.monotonic()
    th = threading.Thread(target=call, name="faults-score-callable", daemon=True)
    th.start()
    th.join(timeout)
    ms = round((time.monotonic() - t0) * 1000)
    if th.is_alive():
        return Outcome(None, True, ms, [])
    return Outcome(result["code"], False, ms, tail(result.get("err", "")))


def tail(text: str, n: int = STDERR_LINES) -> list[str]:
    return [ln[:500] for ln in text.splitlines() if ln.strip()][-n:]
