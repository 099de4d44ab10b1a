"""The client matrix: every fault of the HTTP/1.1, HTTP/2 and TLS tables of docs/clients.md,
driven through one mitmdump by one process per real client (a driver in
``drivers/``), each case on its own host name and so its own fresh connection.

``measure(px, client)`` returns, per case, what the client did and every report
record the proxy wrote for it (more than one: the client silently re-sent it).
``python -m tests.e2e.clientmatrix CLIENT`` prints both side by side (how the
profiles were written).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from faults.classify import matrix
from faults.tools.launch import ProxyProcess

from .waiting import RECORDS_TIMEOUT, read_records, wait_connections_closed, wait_until

DRIVERS = Path(__file__).with_name("drivers")
TIMEOUT_MS = 2000

# the rows of docs/clients.md's matrices (faults.classify.matrix), plus a control without a fault
HTTP_FAULTS = [spec for spec, _ in matrix.rows("HTTP/1.1")] + [None]
H2_FAULTS = [spec for spec, _ in matrix.rows("HTTP/2")] + [None]
# keys become host names: letters, digits and hyphens only (Java refuses "_" in a host)
TLS_FAULTS = {re.sub(r"[^a-z0-9]+", "-", spec.split(None, 1)[1]): spec for spec, _ in matrix.rows("TLS")}
# A page script's fetch() in chromium (modes h1f, h2f): a representative set of the rows
# (every kind of end: status, hang, RST and FIN at each phase, short and undecodable bodies, frames)
FETCH_H1 = ["status code=503", "status code=200", "hang", "reset when=before_response", "reset when=mid_body",
            "close when=before_response", "close when=after_headers", "truncate", "bad_gzip", None]
FETCH_H2 = FETCH_H1[:-1] + ["rst_stream code=INTERNAL_ERROR when=after_headers",
                            "rst_stream code=REFUSED_STREAM when=before_response",
                            "goaway code=INTERNAL_ERROR last_stream=this when=before_response then=close",
                            "goaway code=NO_ERROR last_stream=below when=before_response",
                            "h2_violation kind=bad_hpack", None]
# which tables each client is measured on. HTTP/2: Java and Chromium offer h2 first; Node
# (undici with allowH2) and httpx (http2=True) offer it second, so the proxy runs with
# fault_prefer_h2 (httpx over HTTP/1.1 and TLS: tests/e2e/test_core_modes_and_clients.py, test_tls_faults.py)
PROTOCOLS = {"node": ("h1", "h2", "tls"), "requests": ("h1", "tls"), "aiohttp": ("h1", "tls"),
             "java": ("h1", "h2", "tls"), "chromium": ("h1", "h2", "tls", "h1f", "h2f"), "httpx": ("h2",)}
TABLES = {"h1": "HTTP/1.1", "h2": "HTTP/2", "tls": "TLS", "h1f": "HTTP/1.1", "h2f": "HTTP/2"}


def proxy_options(report_path: Path) -> dict:
    rules = [f"/~d ^{re.escape(host(cl, 'tls', c))}$/{spec}"
             for cl in PROTOCOLS for c, spec in TLS_FAULTS.items()]
    # the page a fetch() case runs in: over HTTP/1.1 the proxy answers it and closes the
    # connection, so the fetch gets a fresh one (HTTP/2: the upstream answers, stream 1)
    rules.append(r"|~u /page\?case=[a-z]+-h1f-|status code=200 content_type=text/html body=page header.connection=close")
    return {"fault_header": True, "fault_report": str(report_path), "faults": rules, "fault_prefer_h2": True}


@contextlib.contextmanager
def running_proxy(upstream_url: str, report_path: Path):
    """The matrix's proxy in front of ``upstream_url``, reporting to ``report_path``; on the
    way out, no traceback and no client connection left open (``shutdown_problems``)."""
    px = ProxyProcess(mode=f"reverse:{upstream_url}", options=proxy_options(report_path))
    px.report_path = report_path
    with px:
        yield px
    assert shutdown_problems(px.log()) is None, shutdown_problems(px.log())


def host(client: str, proto: str, key) -> str:
    return f"{client}-{proto}-{key}.test"


def cases(port: int, client: str) -> list[dict]:
    """[{id, url, fault, timeout_ms, spec, proto}] in the order the driver runs them."""
    out = []
    for proto in PROTOCOLS[client]:
        if proto == "tls":
            items = TLS_FAULTS.items()
        else:
            items = enumerate({"h1": HTTP_FAULTS, "h2": H2_FAULTS, "h1f": FETCH_H1, "h2f": FETCH_H2}[proto])
        for key, spec in items:
            h = host(client, proto, key)
            scheme = "http" if proto.startswith("h1") else "https"
            cid = h.removesuffix(".test")
            c = {"id": cid, "url": f"{scheme}://{h}:{port}/m?case={cid}&size=30000",
                 "fault": spec if proto != "tls" else None, "timeout_ms": TIMEOUT_MS,
                 "spec": spec, "proto": proto, "host": h, "h2": proto == "h2"}
            if proto.endswith("f"):
                c["page"] = f"{scheme}://{h}:{port}/page?case={cid}-page"
            out.append(c)
    return out


# -- drivers: one process per client, all cases in it --------------------------------
def missing(client: str) -> str | None:
    """Why this client cannot run here (the test skips with it), or None."""
    if client == "node" and not shutil.which("node"):
        return "node is not installed (Node 20+: apt-get install nodejs)"
    if client == "node" and not (DRIVERS / "node_modules" / "undici").is_dir():
        return "undici is not installed (npm ci --prefix tests/e2e/drivers; .ci/run does)"
    if client == "java" and not shutil.which("java"):
        return "java is not installed (Java 17+: apt-get install openjdk-17-jdk-headless)"
    if client == "chromium":
        if not shutil.which(os.environ.get("CHROMIUM", "chromium")):
            return "chromium is not installed (apt-get install chromium; .ci/run does)"
        if not shutil.which("certutil"):
            return "certutil is not installed (apt-get install libnss3-tools; .ci/run does)"
        if not shutil.which("node") or not (DRIVERS / "node_modules" / "playwright-core").is_dir():
            return "playwright-core is not installed (npm ci --prefix tests/e2e/drivers; .ci/run does)"
    if client in ("requests", "aiohttp", "httpx"):
        try:
            __import__(client)
        except ImportError:
            return f"{client} is not installed (pip install '.[test]')"
    return None


def run_driver(client: str, todo: list[dict], ca_file: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"matrix-{client}-") as tmp:
        path = Path(tmp) / "cases.json"
        path.write_text(json.dumps([{k: c[k] for k in ("id", "url", "fault", "timeout_ms", "h2", "page") if k in c}
                                    for c in todo]))
        env = dict(os.environ)
        if client == "node":
            cmd = ["node", str(DRIVERS / "node_fetch.mjs"), str(path)]
            env["NODE_EXTRA_CA_CERTS"] = str(ca_file)
        elif client == "java":
            hosts = Path(tmp) / "hosts"
            hosts.write_text("".join(f"127.0.0.1 {c['host']}\n" for c in todo))
            cmd = ["java", f"-Djdk.net.hosts.file={hosts}", str(DRIVERS / "JavaHttpClient.java"), str(path),
                   str(ca_file)]
        elif client == "chromium":
            # chromium trusts CAs from the NSS database in $HOME (no CA-file flag): a fresh one
            nss = Path(tmp) / ".pki" / "nssdb"
            nss.mkdir(parents=True)
            subprocess.run(["certutil", "-d", f"sql:{nss}", "-N", "--empty-password"], check=True, timeout=30)
            subprocess.run(["certutil", "-d", f"sql:{nss}", "-A", "-t", "C,,", "-n", "mitmproxy", "-i", str(ca_file)],
                           check=True, timeout=30)
            env["HOME"] = tmp
            cmd = ["node", str(DRIVERS / "chromium.mjs"), str(path), str(Path(tmp) / "profile")]
        else:
            cmd = [sys.executable, str(DRIVERS / "python_clients.py"), client, str(path), str(ca_file)]
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60 + 5 * len(todo))
        assert p.returncode == 0 and p.stdout, (cmd, p.returncode, p.stderr[-3000:])
        return json.loads(p.stdout)


# mitmproxy's report of a client connection still open at shutdown (its handler is cancelled)
_LEFT_OPEN = re.compile(r"Exception in callback StreamReaderProtocol\.connection_made\.<locals>\.callback"
                        r"\(<Task cancell.*?\nasyncio\.exceptions\.CancelledError(?:\n|$)", re.S)


def shutdown_problems(log: str) -> str | None:
    """What in the proxy's log shows a problem: any traceback, or a client connection
    still open at shutdown (e.g. httpx's TLS decode_error alert after a FIN over HTTP/2
    left its handler waiting until faults.wire.sockets.close recorded the half-close)."""
    left_open = len(_LEFT_OPEN.findall(log))
    rest = _LEFT_OPEN.sub("", log)
    if "Traceback" in rest:
        return rest[-3000:]
    if left_open:
        return f"{left_open} client connections were still open at shutdown"
    return None


def records_for(recs: list[dict], c: dict) -> list[dict]:
    """Every record of this case: failed handshakes on its host, flows with its id."""
    return [r for r in recs if (r.get("record") == "tls_handshake" and r.get("host") == c["host"])
            or (r.get("record") != "tls_handshake" and f"case={c['id']}&" in (r.get("url") or ""))]


def settled_records(px, todo: list[dict]) -> list[dict]:
    """The report once the client (its driver has exited) has every connection closed by
    the proxy, so every attempt's flow is finished and recorded, and each case has a record."""
    wait_connections_closed(px)
    recs: list[dict] = []

    def unrecorded() -> list[str]:
        return [c["id"] for c in todo if not records_for(recs, c)]

    def complete() -> bool:
        recs[:] = read_records(px.report_path)
        return not unrecorded()

    wait_until(complete, RECORDS_TIMEOUT, f"a record for each of {len(todo)} cases",
               seen=lambda: f"none for {unrecorded()}")
    return recs


def measure(px, client: str) -> list[tuple[dict, dict, list[dict]]]:
    todo = cases(px.port, client)
    got = run_driver(client, todo, px.ca_file)
    recs = settled_records(px, todo)
    return [(c, got[c["id"]], records_for(recs, c)) for c in todo]


def prediction(recs: list[dict], client: str) -> dict | None:
    """The profile's report on the attempt the client reported (the last one)."""
    return recs[-1].get("clients", {}).get(client) if recs else None


def resends(want: dict) -> set[int]:
    """The silent re-send counts a prediction names: its own and its racing readings'."""
    own = int(want.get("retried", 0))
    return {own} | {int(a.get("retried", own)) for a in want.get("alt", [])}


def attempts(recs: list[dict], client: str) -> int:
    """The attempts the proxy saw: every record but a handshake the client accepted (Chromium
    closes an unused preconnect after it: no request, nothing failed)."""
    return sum(not (r.get("record") == "tls_handshake" and (r.get("clients", {}).get(client) or {}).get("error") == "ok")
               for r in recs)


def original(recs: list[dict], client: str) -> dict | None:
    """The prediction that speaks for the re-sends: the one naming the most. Only the original
    attempt's record can know its request will be re-sent (a re-send lands on a fresh
    connection, where the proxy cannot tell it from a new request; a handshake the client
    abandoned is recorded without a reason)."""
    preds = [p for r in recs if (p := r.get("clients", {}).get(client))]
    return max(preds, key=lambda p: max(resends(p)), default=None)


def mismatch(client: str, got: dict, recs: list[dict], fetch: bool = False) -> str | None:
    """Why the prediction differs from what the client did, or None. ``fetch``: a chromium
    page script's fetch(), predicted by the entry's ``fetch`` (error, message, status).
    The error, text and status are the last attempt's prediction (what the client reported);
    the silent re-sends must be one of the counts the original attempt's prediction names."""
    want = prediction(recs, client)
    if want is None:
        return f"no {client} prediction"
    if fetch:
        if "fetch" not in want:
            return f"no {client} prediction for a page script's fetch()"
        want = {**want["fetch"], "alt": [a for a in want["fetch"].get("alt", [])]}
    if want["error"] != got["error"] and got["error"] not in [a["error"] for a in want.get("alt", [])]:
        return f"error: predicted {want['error']!r}, got {got['error']!r} ({got['message']})"
    if want["error"] == got["error"]:  # the text: the prediction's, or a racing reading's with that error
        texts = [want["message"]] + [a.get("message", "") for a in want.get("alt", []) if a["error"] == got["error"]]
        if not any(t in got["message"] for t in texts):
            return f"message: predicted {want['message']!r} in {got['message']!r}"
    counts, seen = resends(original(recs, client)), attempts(recs, client) - 1
    if seen not in counts:
        return f"retried: predicted {' or '.join(map(str, sorted(counts)))}, the proxy saw {seen + 1} attempts"
    if "status" in want and want["status"] != got["status"]:
        return f"status: predicted {want['status']}, got {got['status']}"
    return None


if __name__ == "__main__":  # measure by hand: python -m tests.e2e.clientmatrix CLIENT
    from faults.tools.upstream import Upstream

    who = sys.argv[1]
    with tempfile.TemporaryDirectory() as d, Upstream() as up:
        with running_proxy(up.url, Path(d) / "r.jsonl") as px:
            for c, got, recs in measure(px, who):
                want = prediction(recs, who)
                print(json.dumps({"case": c["id"], "spec": c["spec"], "got": got, "n": len(recs),
                                  "version": recs[-1].get("http_version") if recs else None,
                                  "event": recs[-1]["outcome"]["event"] if recs else None,
                                  "reused": recs[-1].get("facts", {}).get("reused_connection") if recs else None,
                                  "want": want, "bad": mismatch(who, got, recs, "page" in c)}))
