"""Soak: many HTTP/1.1 requests through mitmdump + the addon, a share of them
faulted with the ``x-fault`` header (reset, close, hang released by a client
timeout, delay, status), the rest plain. Checks what issue 8 asks:

- the proxy stays up and keeps answering unfaulted requests correctly;
- every faulted request fails (or answers) the way its fault says;
- open file descriptors of the mitmdump process return to the baseline;
- RSS growth is reported (the caller bounds it);
- no record of an unfaulted request carries a fault;
- every request appears exactly once in the ``fault_report`` JSONL.

``run_soak()`` is used by bench/run.py (20,000 requests) and by
tests/e2e/test_soak.py (about 2,000). The client is a small asyncio HTTP/1.1
client with keep-alive, so each connection has one request in flight and a
fault never takes an unrelated request down with it.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from faults import report  # noqa: E402
from faults.tools.launch import ProxyProcess  # noqa: E402

# kind -> (x-fault spec, expected client-side outcome)
MIX = [
    ("reset", "reset when=before_response", "conn_error"),
    ("reset_mid", "reset when=mid_body", "conn_error"),
    ("close", "close when=after_headers", "conn_error"),
    ("hang", "hang", "timeout"),
    ("delay", "delay ms=20", "ok"),
    ("status", "status code=503", "status_503"),
]
SIZE = 2048


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def start_upstream(timeout: float = 15) -> tuple[subprocess.Popen, str]:
    """The asyncio upstream in its own process (so it never shares a GIL with a client)."""
    proc = subprocess.Popen([sys.executable, "-m", "faults.tools.upstream", "0"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    deadline = time.monotonic() + timeout
    line = ""
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("upstream on "):
            return proc, line.split()[-1].strip()
        if proc.poll() is not None:
            break
    proc.kill()
    raise RuntimeError(f"upstream did not start: {line!r}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class Conn:
    def __init__(self, port: int):
        self.port = port
        self.r: asyncio.StreamReader | None = None
        self.w: asyncio.StreamWriter | None = None

    async def ensure(self):
        if self.w is None:
            self.r, self.w = await asyncio.open_connection("127.0.0.1", self.port)

    def drop(self):
        if self.w is not None:
            self.w.transport.abort()
        self.r = self.w = None

    async def request(self, path: str, headers: dict[str, str]) -> tuple[int, dict, bytes]:
        await self.ensure()
        head = f"GET {path} HTTP/1.1\r\nHost: soak.test\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.w.write((head + "\r\n").encode())
        status_line = await self.r.readuntil(b"\r\n")
        status = int(status_line.split()[1])
        hdrs = {}
        while True:
            line = await self.r.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            k, _, v = line.decode("latin-1").partition(":")
            hdrs[k.strip().lower()] = v.strip()
        body = await self.r.readexactly(int(hdrs.get("content-length", "0")))
        if hdrs.get("connection", "").lower() == "close":
            self.drop()
        return status, hdrs, body


async def _client(port: int, plan: list[tuple[int, str | None]], concurrency: int, timeout: float,
                  hang_timeout: float) -> list[dict]:
    queue = list(reversed(plan))
    results: list[dict] = []

    async def worker():
        conn = Conn(port)
        while queue:
            rid, kind = queue.pop()
            spec = next((s for k, s, _ in MIX if k == kind), None)
            headers = {"x-fault": spec} if spec else {}
            t0 = time.monotonic()
            res = {"id": rid, "kind": kind}
            try:
                status, hdrs, body = await asyncio.wait_for(
                    conn.request(f"/soak?id={rid}&size={SIZE}", headers),
                    hang_timeout if kind == "hang" else timeout)
                res.update(outcome=f"status_{status}" if status != 200 else "ok", status=status,
                           body_ok=len(body) == SIZE and body == b"x" * SIZE and "x-upstream-count" in hdrs)
            except asyncio.TimeoutError:
                res["outcome"] = "timeout"
                conn.drop()
            except (ConnectionError, asyncio.IncompleteReadError, OSError, ValueError, IndexError) as e:
                res["outcome"] = "conn_error"
                res["error"] = type(e).__name__
                conn.drop()
            res["ms"] = (time.monotonic() - t0) * 1000
            results.append(res)
        conn.drop()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return results


def read_report(path: Path) -> list[dict]:
    return report.read(path) if path.exists() else []


def run_soak(n: int = 20_000, fault_share: float = 0.3, concurrency: int = 50, seed: int = 8,
             timeout: float = 10.0, hang_timeout: float = 0.5, settle: float = 10.0,
             workdir: str | Path | None = None, addon=None) -> dict:
    """Run the soak; returns a dict of measurements and a list of ``problems`` (empty = pass)."""
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="faults-soak-")
        workdir = tmp.name
    workdir = Path(workdir)
    report_path = workdir / "soak-report.jsonl"
    report_path.unlink(missing_ok=True)
    rnd = random.Random(seed)
    plan = [(i, rnd.choice(MIX)[0] if rnd.random() < fault_share else None) for i in range(n)]
    up, up_url = start_upstream()
    kw = {} if addon is None else {"addon": addon}
    px = ProxyProcess(mode=f"reverse:{up_url}", options={"fault_header": True, "fault_report": str(report_path)}, **kw)
    problems: list[str] = []
    out: dict = {"requests": n, "faulted": sum(1 for _, k in plan if k), "concurrency": concurrency}
    try:
        px.start()
        pid = px.proc.pid
        # warm-up (not in the plan, not checked): imports, caches, first connections
        asyncio.run(_client(px.port, [(-(i + 1), None) for i in range(100)], 10, timeout, hang_timeout))
        time.sleep(0.3)
        out["fd_baseline"] = fd_baseline = fd_count(pid)
        out["rss_start_mib"] = rss_kib(pid) / 1024
        t0 = time.monotonic()
        samples: list[tuple[float, float]] = []
        done = threading.Event()

        def sample():  # RSS over the run: growth that levels off is a cache, steady growth a leak
            while not done.wait(0.5):
                try:
                    samples.append((time.monotonic() - t0, rss_kib(pid) / 1024))
                except OSError:
                    return

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            results = asyncio.run(_client(px.port, plan, concurrency, timeout, hang_timeout))
        finally:
            done.set()
            sampler.join(2)
        out["seconds"] = round(time.monotonic() - t0, 2)
        if samples:
            step = max(1, len(samples) // 8)
            out["rss_samples_mib"] = [(round(t, 1), round(m, 1)) for t, m in samples[::step]]
            out["rss_max_mib"] = round(max(m for _, m in samples), 1)
            half = samples[len(samples) // 2][1]
            out["rss_growth_second_half_mib"] = round(samples[-1][1] - half, 1)
        out["alive"] = px.proc.poll() is None
        if not out["alive"]:
            problems.append(f"mitmdump exited with {px.proc.returncode}")
        # file descriptors back to baseline once every client connection is gone
        deadline = time.monotonic() + settle
        fds = fd_count(pid)
        while fds > fd_baseline and time.monotonic() < deadline:
            time.sleep(0.2)
            fds = fd_count(pid)
        out["fd_end"] = fds
        if fds > fd_baseline:
            problems.append(f"open fds {fds} > baseline {fd_baseline} after {settle}s")
        out["rss_end_mib"] = rss_kib(pid) / 1024
        out["rss_growth_mib"] = round(out["rss_end_mib"] - out["rss_start_mib"], 1)
        # after the load: a plain request is still answered correctly
        after = asyncio.run(_client(px.port, [(-999_999, None)], 1, timeout, hang_timeout))
        if after[0]["outcome"] != "ok" or not after[0].get("body_ok"):
            problems.append(f"plain request after the soak failed: {after[0]}")
    finally:
        px.stop()
        stop(up)
    log = px.log()
    if "Traceback" in log or "mitmproxy has crashed" in log:
        problems.append("traceback in the mitmdump log: " + log[log.find("Traceback"):][:1500])

    # client side
    expected = {k: e for k, _, e in MIX}
    by_kind: dict = {}
    unfaulted_bad = []
    wrong_outcome = []
    for r in results:
        c = by_kind.setdefault(r["kind"] or "none", Counter())
        c[r["outcome"]] += 1
        if r["kind"] is None:
            if r["outcome"] != "ok" or not r.get("body_ok"):
                unfaulted_bad.append(r)
        elif r["outcome"] != expected[r["kind"]] or (r["kind"] == "delay" and (not r.get("body_ok") or r["ms"] < 20)):
            wrong_outcome.append(r)
    out["outcomes"] = {k: dict(v) for k, v in sorted(by_kind.items())}
    out["unfaulted_failed"] = len(unfaulted_bad)
    out["faulted_wrong_outcome"] = len(wrong_outcome)
    if len(results) != n:
        problems.append(f"client finished {len(results)} of {n} requests")
    if unfaulted_bad:
        problems.append(f"{len(unfaulted_bad)} unfaulted request(s) not answered correctly, e.g. {unfaulted_bad[:3]}")
    if wrong_outcome:
        problems.append(f"{len(wrong_outcome)} faulted request(s) with an unexpected outcome, e.g. {wrong_outcome[:3]}")

    # report side
    recs = [r for r in read_report(report_path) if "/soak?id=" in (r.get("url") or "")]
    ids = Counter()
    kind_of = dict(plan)
    faulted_unselected = []
    fault_mismatch = []
    for rec in recs:
        rid = int(rec["url"].split("id=")[1].split("&")[0])
        if rid < 0:
            continue
        ids[rid] += 1
        kind = kind_of.get(rid)
        spec = next((s for k, s, _ in MIX if k == kind), None)
        if kind is None and rec.get("fault"):
            faulted_unselected.append(rec)
        elif kind is not None and rec.get("fault") != spec:
            fault_mismatch.append(rec)
    missing = [i for i in range(n) if ids[i] == 0]
    dup = [i for i, c in ids.items() if c > 1]
    out["report_records"] = sum(ids.values())
    out["report_missing"] = len(missing)
    out["report_duplicates"] = len(dup)
    out["fault_on_unselected"] = len(faulted_unselected)
    if missing:
        problems.append(f"{len(missing)} request(s) missing from the report, e.g. ids {missing[:10]}")
    if dup:
        problems.append(f"{len(dup)} request(s) more than once in the report, e.g. ids {dup[:10]}")
    if faulted_unselected:
        problems.append(f"{len(faulted_unselected)} unselected request(s) carry a fault, e.g. {faulted_unselected[:2]}")
    if fault_mismatch:
        problems.append(f"{len(fault_mismatch)} record(s) with the wrong fault, e.g. {fault_mismatch[:2]}")
    out["problems"] = problems
    if tmp:
        tmp.cleanup()
    return out


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    print(json.dumps(run_soak(n), indent=2, default=str))
