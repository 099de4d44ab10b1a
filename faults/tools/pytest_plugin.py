"""pytest plugin (entry point ``pytest11``): the ``fault_proxy`` fixture.

One mitmdump with the fault addon is started per session (regular proxy mode,
control endpoint on, a random token, the session seed). Each test gets a
clean slate: the runtime rules are cleared before and after it, so a test
that forgets to clean up cannot leak faults into the next one, and its
``flows()`` are only the flows of that test::

    def test_retry(fault_proxy, upstream_url):
        fault_proxy.set("|~u /api|status code=503 retry_after=1 first=1")
        client = httpx.Client(proxy=fault_proxy.url, verify=str(fault_proxy.ca_file))
        assert client.get(f"{upstream_url}/api/x").status_code == 503
        fault_proxy.expect(code=1503, count=1)

``--fault-seed N`` (default 1, or ``$FAULT_SEED``) seeds every rule: the same
sequence of requests gets the same faults run after run, however the rules
change between tests. ``--fault-workers N`` (or ``$FAULT_WORKERS``) runs the
proxy as N workers behind one port (``faults proxy --workers N``); the rules a
test sets reach every worker before ``set`` returns, and ``flows()`` reads the
one report they share (each record with its ``worker``).
"""

from __future__ import annotations

import os
import secrets
import time
from collections import Counter
from pathlib import Path
from typing import Iterable

import pytest

from faults import expect, numbers
from faults.errors import SpecError
from faults.expect import Expectation
from faults.tools.launch import CONTROL, ControlledProxy

DEFAULT_SEED = 1


class FaultSpecError(ValueError):
    """The proxy refused a rule (HTTP 400): the message names what is wrong."""


# -- one proxy process and its control: faults.tools.launch.ControlledProxy ----------

def _proc(mode: str, seed: int, token: str, workdir: Path, confdir: Path | None, name: str, workers: int = 1):
    return ControlledProxy(mode, seed, token, workdir, confdir, name, workers, spec_error=FaultSpecError)


# -- the object a test gets ---------------------------------------------------

class ReverseProxy:
    """A reverse-mode proxy in front of one upstream (same seed, same rules)."""

    def __init__(self, proc, upstream: str, ca_file: Path):
        self._proc, self.upstream, self.ca_file = proc, upstream, ca_file

    @property
    def url(self) -> str:
        return self._proc.url

    @property
    def port(self) -> int:
        return self._proc.port

    def __repr__(self):
        return f"<ReverseProxy {self.url} -> {self.upstream}>"


class FaultProxy:
    """What ``fault_proxy`` yields. See the module docstring and docs/testing.md."""

    def __init__(self, seed: int, workdir: Path, workers: int = 1):
        self.seed = seed
        self.workers = workers
        self.token = secrets.token_urlsafe(16)
        self.workdir = workdir
        self._main = _proc("regular", seed, self.token, workdir, None, "main", workers).start()
        self._reverse: dict = {}  # upstream -> ControlledProxy
        self._rules: tuple[str, str] | None = None  # (body, content-type) currently set
        self.test_name = ""

    # -- where to send traffic ---------------------------------------------------
    @property
    def url(self) -> str:
        """Proxy URL for HTTP_PROXY / HTTPS_PROXY / httpx's ``proxy=``."""
        return self._main.url

    @property
    def port(self) -> int:
        return self._main.port

    @property
    def ca_file(self) -> Path:
        """The proxy's CA certificate (PEM) to trust for HTTPS through it."""
        return self._main.px.ca_file

    control_url = CONTROL

    def env(self) -> dict[str, str]:
        """Environment for a subprocess client (k6, curl, requests, ...)."""
        return {"HTTP_PROXY": self.url, "HTTPS_PROXY": self.url, "http_proxy": self.url,
                "https_proxy": self.url, "SSL_CERT_FILE": str(self.ca_file), "NO_PROXY": ""}

    def reverse(self, upstream: str) -> ReverseProxy:
        """A reverse-mode proxy for ``upstream`` (started once, cached), with the current rules."""
        upstream = upstream.rstrip("/")
        proc = self._reverse.get(upstream)
        if proc is None:
            proc = _proc(f"reverse:{upstream}", self.seed, self.token, self.workdir, self._main.px.confdir,
                         f"reverse{len(self._reverse)}", self.workers).start()
            proc.mark()
            if self._rules:
                proc.control("POST", "/rules", *self._rules)
            self._reverse[upstream] = proc
        return ReverseProxy(proc, upstream, self.ca_file)

    @property
    def _procs(self) -> list:
        return [self._main, *self._reverse.values()]

    # -- faults --------------------------------------------------------------
    def set(self, *rules: str | Path) -> list[dict]:
        """Replace this test's faults, on every proxy of the session.

        Each argument is a rule as for the ``faults`` option (``"/~u /api/status code=503"``,
        ``"reset when=mid_body probability=0.2"``); or give one YAML plan (text with ``rules:``
        or a path to a ``.yaml`` file). Rules are validated like the plan file: a bad one
        raises :class:`FaultSpecError` and changes nothing. Returns the rules as the proxy
        lists them.
        """
        if not rules:
            self.clear()
            return []
        if len(rules) == 1 and (isinstance(rules[0], Path) or _is_yaml(str(rules[0]))):
            r = rules[0]
            body = Path(r).read_text() if isinstance(r, Path) or str(r).endswith((".yaml", ".yml")) else str(r)
            payload = (body, "application/yaml")
        else:
            for r in rules:
                if "\n" in str(r):
                    raise FaultSpecError(f"one rule per argument, got a newline in {r!r}")
            payload = ("\n".join(str(r) for r in rules) + "\n", "text/plain")
        listed = self._main.control("POST", "/rules", *payload)  # validates first: all or nothing
        for proc in self._procs[1:]:
            proc.control("POST", "/rules", *payload)
        self._rules = payload
        return [r for r in listed["rules"] if r["source"] == "runtime"]

    def clear(self) -> None:
        """Drop every runtime fault (done for you before and after each test)."""
        for proc in self._procs:
            proc.control("DELETE", "/rules")
        self._rules = None

    def rules(self) -> list[dict]:
        return self._main.control("GET", "/rules")["rules"]

    def stats(self) -> dict:
        return self._main.control("GET", "/stats")

    # -- what happened in this test -----------------------------------------
    def flows(self, settle: float = 0.15, timeout: float = 3.0) -> list[dict]:
        """The report records (one per flow, with fault and k6 code) of the current test so far.

        Waits until no new record arrived for ``settle`` seconds (at most ``timeout``).
        """
        deadline = time.monotonic() + timeout
        last = self._records()
        while time.monotonic() < deadline:
            time.sleep(settle)
            now = self._records()
            if len(now) == len(last):
                return now
            last = now
        return last

    def _records(self) -> list[dict]:
        recs = [r for p in self._procs for r in p.records()]
        return sorted(recs, key=lambda r: r.get("ts") or 0)

    def report(self) -> dict:
        """A summary of the current test's flows: counts by k6 code and by fault."""
        recs = self.flows()
        return {
            "flows": len(recs),
            "faulted": sum(1 for r in recs if r.get("fault")),
            "codes": dict(Counter(r.get("k6_error_code") for r in recs)),
            "faults": dict(Counter(r.get("fault") for r in recs if r.get("fault"))),
            "records": recs,
        }

    def expect(self, code: int | None = None, count: int | None = None, fault: str | bool | None = None,
               url: str | None = None, timeout: float = 5.0, client: str | None = None,
               error=None) -> list[dict]:
        """Assert on this test's flows; fail with a readable table if they differ.

        ``code``: the k6 error code (0 = no error); ``fault``: the fault spec (exact text or
        just its kind, e.g. ``"reset"``), ``False`` for flows with no fault; ``url``: a
        substring of the URL; ``client`` and ``error``: what that client profile predicts
        (``client="node", error="ECONNRESET"``; ``error`` alone: any client; ``"ok"``: no error);
        ``count``: how many flows must match (default: at least one).
        Waits up to ``timeout`` seconds for flows still in flight. Returns the matching records.
        """
        try:
            exp = Expectation(code=code, count=count, fault=fault, url=url, client=client, error=error)
        except ValueError as e:
            given = ", ".join(f"{k}={v!r}" for k, v in (("client", client), ("count", count), ("code", code))
                              if v is not None)
            pytest.fail(f"expect({given}): {e}", pytrace=False)
        deadline = time.monotonic() + timeout
        while True:
            recs = self.flows(timeout=max(0.2, min(1.0, deadline - time.monotonic())))
            found = expect.hits(exp, recs)
            if exp.met(len(found)) and (count is None or time.monotonic() >= deadline or _stable(self, recs)):
                return found
            if time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        pytest.fail(expect.explain(exp, recs, caller="fault_proxy.expect", scope=self.test_name), pytrace=False)

    def __repr__(self):
        return f"<FaultProxy {self.url} seed={self.seed}>"

    # -- lifecycle (the fixtures call these) ----------------------------------
    def _begin(self, name: str) -> None:
        self.test_name = name
        self.clear()
        for p in self._procs:
            p.mark()

    def _end(self) -> None:
        self.clear()

    def _stop(self) -> None:
        for p in self._procs:
            p.stop()


def _stable(fp: FaultProxy, recs: list[dict]) -> bool:
    time.sleep(0.2)
    return len(fp._records()) == len(recs)


def _is_yaml(text: str) -> bool:
    from faults.addons.control.body import looks_like_yaml_plan

    return "\n" in text.strip() or looks_like_yaml_plan(text) or text.endswith((".yaml", ".yml"))


# -- pytest hooks and fixtures -------------------------------------------------

def pytest_addoption(parser):
    group = parser.getgroup("faults", "fault injection proxy (mitm-faults)")
    group.addoption("--fault-seed", type=int, default=None,
                    help=f"seed for the fault_proxy's rule draws (default: $FAULT_SEED or {DEFAULT_SEED})")
    group.addoption("--fault-workers", type=int, default=None,
                    help="mitmdump workers behind the fault_proxy's port (faults proxy --workers N; "
                         "default: $FAULT_WORKERS or 1)")


def _seed(config) -> int:
    seed = config.getoption("--fault-seed", None)
    if seed is None:
        raw = os.environ.get("FAULT_SEED")
        try:
            seed = DEFAULT_SEED if raw is None else numbers.whole(raw, "FAULT_SEED")
        except SpecError as e:
            raise pytest.UsageError(str(e)) from None
    return seed


def _workers(config) -> int:
    n = config.getoption("--fault-workers", None)
    if n is None:
        try:
            n = numbers.plain(os.environ.get("FAULT_WORKERS", "1"), "FAULT_WORKERS", 1)
        except SpecError as e:
            raise pytest.UsageError(str(e)) from None
    if n < 1:
        raise pytest.UsageError(f"--fault-workers {n}: expected a whole number >= 1")
    return n


def pytest_report_header(config):
    workers = _workers(config)
    return f"fault_proxy seed: {_seed(config)} (--fault-seed N)" + (f", {workers} workers" if workers > 1 else "")


@pytest.fixture(scope="session")
def _fault_proxy_session(request, tmp_path_factory) -> Iterable[FaultProxy]:
    fp = FaultProxy(_seed(request.config), tmp_path_factory.mktemp("fault_proxy"), _workers(request.config))
    try:
        yield fp
    finally:
        fp._stop()


@pytest.fixture
def fault_proxy(_fault_proxy_session, request) -> Iterable[FaultProxy]:
    """A fault-injecting proxy (session-wide process), reset before and after this test."""
    fp = _fault_proxy_session
    fp._begin(request.node.nodeid)
    try:
        yield fp
    finally:
        fp._end()


@pytest.fixture
def fault_score(request):
    """Score a command or a Python callable under faults (``faults score`` from a test).

    ``fault_score(target, faults=None, *, policy=None, timeout=10, tls=False, first=None,
    upstream=None, proxy_mode=False)``: ``target`` is a command (a list; ``$FAULTS_URL`` in it
    is replaced, and the process gets FAULTS_URL and the CA variables) or a callable taking the
    URL; ``faults``: specs (default: the default suite); ``policy``: a dict of policy keys or a
    YAML file's path. Returns the rows (``verdict``/``reasons`` filled in with a policy). A
    target that fails with no fault fails the test. Each call runs its own proxy (docs/score.md).
    """
    from faults import score as scoremod
    from faults.errors import SpecError
    from faults.score import policy as policymod
    from faults.score.runner import Options

    def run(target, faults=None, *, policy=None, timeout: float = 10.0, tls: bool = False,
            first: int | None = None, upstream: str | None = None, proxy_mode: bool = False) -> list[dict]:
        try:
            if isinstance(policy, dict):
                policy = policymod.parse(policy, "fault_score(policy=...)")
            elif policy is not None:
                policy = policymod.load(policy)
            options = Options(upstream=upstream, proxy_mode=proxy_mode, tls=tls, timeout=timeout,
                              seed=_seed(request.config))
            return scoremod.score(target, faults, policy=policy, options=options, first=first).rows
        except SpecError as e:
            pytest.fail(f"fault_score: {e}", pytrace=False)
        except scoremod.BaselineFailed as e:
            pytest.fail(f"fault_score: {e}", pytrace=False)

    return run
