"""In mitmweb every faulted flow is marked and commented with its fault and k6
code: checked through mitmweb's own API (GET /flows), and the faults.* commands
work from mitmweb (POST /commands/faults.set)."""

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from faults.tools.launch import ADDON, LISTEN_RE

from .waiting import wait_until


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mitmweb:
    def __init__(self, tmp: Path, options: dict):
        self.password = secrets.token_hex(8)
        self.web_port = free_port()  # mitmweb logs ":0" for --web-port 0, so pick one
        exe = Path(sys.executable).with_name("mitmweb")
        self.args = [str(exe), "--web-host", "127.0.0.1", "--web-port", str(self.web_port), "--no-web-open-browser",
                     "--listen-host", "127.0.0.1", "--listen-port", "0", "--set", f"confdir={tmp}",
                     "--set", f"web_password={self.password}", "-s", str(ADDON)]
        for k, v in options.items():
            self.args += ["--set", f"{k}={v}"]
        self.lines: list[str] = []
        self.port = None

    def __enter__(self):
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
        web_ready = threading.Event()

        def pump():
            for line in self.proc.stdout:
                self.lines.append(line.rstrip())
                m = LISTEN_RE.search(line)
                if m and self.port is None and "proxy listening" in line:
                    self.port = int(m.group(1))
                if "Web server listening" in line:
                    web_ready.set()

        threading.Thread(target=pump, daemon=True).start()
        wait_until(lambda: (web_ready.is_set() and self.port) or self.proc.poll() is not None, 30,
                   "mitmweb's start", fail=False)
        if self.proc.poll() is not None:
            raise RuntimeError("mitmweb exited:\n" + "\n".join(self.lines))
        if not (web_ready.is_set() and self.port):
            self.__exit__()
            raise RuntimeError("mitmweb did not start:\n" + "\n".join(self.lines))
        self.api = httpx.Client(base_url=f"http://127.0.0.1:{self.web_port}", timeout=10,
                                headers={"Authorization": f"Bearer {self.password}"})
        return self

    def command(self, name: str, *args: str):
        # tornado's XSRF check: the header must match the _mitmproxy_xsrf cookie (the web UI
        # gets it from its websocket; a plain token of our own in both places is accepted)
        xsrf = self.api.cookies.get("_mitmproxy_xsrf")
        if not xsrf:
            xsrf = secrets.token_hex(16)
            self.api.cookies.set("_mitmproxy_xsrf", xsrf, domain="127.0.0.1")
        r = self.api.post(f"/commands/{name}", json={"arguments": list(args)}, headers={"X-XSRFToken": xsrf})
        r.raise_for_status()
        return r.json()

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    with Mitmweb(tmp_path_factory.mktemp("mitmweb"), {"faults": "|~u /boom|status code=503 retry_after=1"}) as w:
        yield w
    assert "Traceback" not in "\n".join(w.lines), "\n".join(w.lines)[-3000:]


def flows_by_path(web, timeout=5.0) -> dict:
    """mitmweb's flows by path, once each has its comment (at most ``timeout``: the tests check)."""
    out: dict = {}

    def commented() -> bool:
        out.clear()
        out.update({f["request"]["path"]: f for f in web.api.get("/flows").json() if f["type"] == "http"})
        return all(f.get("comment") for f in out.values())

    wait_until(commented, timeout, "a comment on every flow", fail=False)
    return out


def test_faulted_flow_is_marked_and_commented(web, upstream):
    with httpx.Client(proxy=f"http://127.0.0.1:{web.port}", timeout=5) as c:
        assert c.get(f"{upstream.url}/boom").status_code == 503
        assert c.get(f"{upstream.url}/fine").status_code == 200
    flows = flows_by_path(web)
    boom, fine = flows["/boom"], flows["/fine"]
    assert boom["marked"], boom  # mitmweb shows the :boom: marker as an emoji
    assert "fault: status code=503 retry_after=1" in boom["comment"] and "k6 1503" in boom["comment"], boom
    assert not fine["marked"] and fine["comment"].startswith("k6 0"), fine


def test_commands_from_mitmweb(web, upstream):
    res = web.command("faults.set", "|~u /teapot|status code=418")
    assert "error" not in res, res
    assert any("status code=418" in line for line in web.command("faults.list")["value"])
    bad = web.command("faults.set", "status code=99")
    assert "error" in bad and "code" in bad["error"]
    with httpx.Client(proxy=f"http://127.0.0.1:{web.port}", timeout=5) as c:
        assert c.get(f"{upstream.url}/teapot").status_code == 418
    teapot = flows_by_path(web)["/teapot"]
    assert teapot["marked"] and re.search(r"status code=418 \[runtime rule 0.*\] -> k6 1418", teapot["comment"]), teapot
    assert '"1418": 1' in web.command("faults.stats")["value"]
    web.command("faults.clear")
    assert not any(line.startswith("runtime") for line in web.command("faults.list")["value"])
