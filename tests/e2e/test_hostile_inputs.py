"""Hostile and careless input against a real proxy (docs/hostile-inputs.md):

- the number corpus (tests/unit/hostile.py) through the control endpoint's text,
  JSON and YAML bodies and through the Toxiproxy API (bodies, listen/upstream ports,
  Content-Length): never a 500, never a traceback in the log;
- a 200 MB POST to the control endpoint without the token: 403, and the proxy's
  peak memory does not grow by the body (refused at the head, the body dropped);
- bad start-up values: exit 1 with one line naming option, value and reason;
- reverse mode: ``~d up\\.test`` matches what curl sent as Host (docs/dns.md's recipe).
"""

from __future__ import annotations

import json
import socket
import subprocess
import time

import httpx
import pytest

from faults.tools.launch import ProxyProcess
from tests.e2e.toxiproxy_support import start_toxiproxy
from tests.unit.hostile import NUMBERS, specs

TOKEN = "s3cret"
CONTROL = "http://faults.control"


@pytest.fixture(scope="module")
def px(tmp_path_factory):
    p = start_toxiproxy(tmp_path_factory.mktemp("hostile"), fault_control=True, fault_control_token=TOKEN)
    try:
        yield p
    finally:
        p.stop()
    assert "Traceback" not in p.log(), p.log()[-3000:]


def test_number_corpus_is_never_a_500(px):
    auth = {"x-fault-token": TOKEN}
    with httpx.Client(proxy=px.url, timeout=10) as c:
        for key, value, text in specs()[::2]:
            for ctype, body in (("text/plain", text), ("application/json", json.dumps([text]))):
                r = c.post(f"{CONTROL}/rules", content=body.encode(), headers={**auth, "content-type": ctype})
                assert r.status_code == 400 and f"{key}=" in r.json()["error"], (text[:60], r.text[:300])
        for value in NUMBERS:
            r = c.get(f"{CONTROL}/expect", params={"count": value, "timeout": "0"}, headers=auth)
            assert r.status_code == 400 and "count=" in r.json()["error"], r.text[:300]
    api = f"http://127.0.0.1:{px.api_port}"
    with httpx.Client(base_url=api, timeout=10) as c:
        assert c.post("/proxies", json={"name": "p", "upstream": "127.0.0.1:9", "enabled": False}).status_code == 201
        for value in NUMBERS:
            for body in ({"name": "q", "upstream": f"127.0.0.1:{value}", "listen": "127.0.0.1:0"},
                         {"name": "q", "upstream": "127.0.0.1:9", "listen": f"127.0.0.1:{value}"}):
                r = c.post("/proxies", json=body)
                assert r.status_code == 400, (value[:40], r.status_code, r.text[:300])
            raw = value if value.isascii() and value.strip() else json.dumps(value)
            for body in (b'{"type":"latency","attributes":{"latency":%s}}' % raw.encode(),
                         json.dumps({"type": "http", "attributes": {"spec": f"hang every={value}"}}).encode()):
                r = c.post("/proxies/p/toxics", content=body)
                assert r.status_code == 400, (value[:40], r.status_code, r.text[:300])
    for value in ("²", "٣", "1" * 5000, "-1"):  # the API's own HTTP parser: a bad Content-Length
        with socket.create_connection(("127.0.0.1", px.api_port), timeout=5) as s:
            s.sendall(f"POST /proxies HTTP/1.1\r\nHost: x\r\nContent-Length: {value}\r\n\r\n".encode())
            assert s.recv(4096).startswith(b"HTTP/1.1 400 "), value[:40]


def _peak_rss_kb(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_a_refused_200_mb_body_is_never_buffered(px):
    """No token: 403 at the request head; the body is read off the socket and dropped, so
    the proxy's peak memory stays where it was (buffered, it would grow by >= 200 MB)."""
    size, chunk = 200 << 20, b"x" * (1 << 20)
    before = _peak_rss_kb(px.proc.pid)
    with socket.create_connection(("127.0.0.1", px.port), timeout=30) as s:
        s.sendall(f"POST {CONTROL}/rules HTTP/1.1\r\nHost: faults.control\r\nContent-Length: {size}\r\n"
                  "Content-Type: text/plain\r\n\r\n".encode())
        for _ in range(size // len(chunk)):
            s.sendall(chunk)
        head = s.recv(4096)
    assert head.startswith(b"HTTP/1.1 403 "), head[:200]
    grew_mb = (_peak_rss_kb(px.proc.pid) - before) / 1024
    assert grew_mb < 50, f"peak RSS grew by {grew_mb:.0f} MB for a refused 200 MB body"


@pytest.mark.parametrize("setting, needle", [
    ("fault_header=maybe", "faults: option fault_header='maybe' refused: expected true or false"),
    ("faults=hang every=²", "faults: faults option entry 0 ('hang every=²'): every='²': expected a whole number"),
    ("fault_report={tmp}/afile/report.jsonl", "faults: fault_report={tmp}/afile/report.jsonl: cannot write a "
                                              "report there: a parent of it is a file"),
])
def test_bad_start_up_values_exit_1_with_one_line(tmp_path, setting, needle):
    (tmp_path / "afile").write_text("x")
    setting, needle = setting.format(tmp=tmp_path), needle.format(tmp=tmp_path)
    key, value = setting.split("=", 1)
    proxy = ProxyProcess(options={key: value}, confdir=tmp_path)
    with pytest.raises(RuntimeError):  # it did not start
        proxy.start(timeout=30)
    log = proxy.log()
    assert proxy.proc.returncode == 1, log
    assert "Traceback" not in log and "error in script" not in log, log
    lines = [ln for ln in log.splitlines() if "faults:" in ln]
    assert len(lines) == 1 and needle in lines[0], log


def test_reverse_mode_domain_rule_matches_the_name_curl_used(upstream, tmp_path):
    """docs/dns.md's recipe: a reverse proxy reached as http://up.test:PORT/ (curl
    --resolve stands in for the DNS mode) applies ``~d up\\.test`` rules; another
    name through the same proxy is untouched."""
    body = tmp_path / "body"
    body.write_bytes(b"x" * 200_000)
    with ProxyProcess(mode=f"reverse:{upstream.url}",
                      options={"faults": [r"|~d up\.test|reset when=mid_request"]}) as rp:
        def curl(name: str) -> subprocess.CompletedProcess:
            return subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20",
                                   "--resolve", f"{name}:{rp.port}:127.0.0.1", "--data-binary", f"@{body}",
                                   f"http://{name}:{rp.port}/echo"], capture_output=True, text=True, timeout=30)
        hit = curl("up.test")
        miss = curl("other.test")
    assert hit.returncode in (52, 55, 56) and hit.stdout == "000", (hit.returncode, hit.stdout, hit.stderr)
    assert miss.returncode == 0 and miss.stdout == "200", (miss.returncode, miss.stdout, miss.stderr)
