"""The proxy's instructions per request, counted by valgrind (issue 22): repeatable where
CPU time on a shared machine is not (+-10% round to round, bench/run.py section 1c).

mitmdump (plain, or with a checkout's addon, no plan or ``--rules N`` non-matching
``~d host-N.invalid`` rules, as bench/run.py's configurations) runs in reverse mode to
the local upstream under ``valgrind --tool=callgrind``; a client sends keep-alive
HTTP/1.1 requests over ``--conns`` connections, a request on each in turn, then reads
the answers (flows interleave in the proxy as under k6). After ``--warmup`` requests
the counters are zeroed (``callgrind_control -z``), after ``--requests`` more they are
dumped: the instructions (Ir) of the whole proxy process per request, mitmproxy's layers
included. The dump (``--keep DIR``) opens with ``callgrind_annotate``.

    python bench/callgrind.py [--addon CHECKOUT|none] [--rules N] [--requests 300] [--warmup 100]

Every configuration also loads ``bench/_quiet_timers.py``, which stops the periodic wake-ups
once running (mitmproxy's script file watchers, the plan file watcher, the status refresh):
under valgrind's ~50x slowdown they would add ~50x their real share per request, varying
with the machine's load. What is left is measured idle afterwards (``idle_ir_per_s``, ~0)
and subtracted (``ir_per_request_net``).

``--cache-sim`` also has valgrind simulate the caches and prints the misses per request
(``per_request``: I1mr/D1mr/D1mw first level, ILmr/DLmr/DLmw last level): what instructions
alone do not show, where two configurations' CPU time differs more than their instructions.

``--profile`` runs the same load without valgrind under cProfile and prints the
functions whose call count per request differs most between runs, to say where a
difference goes (call counts are as repeatable as the load: compare two runs' files
with ``--diff A.json B.json``). Prints one JSON line (``ir_per_request``).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import write_plan  # noqa: E402
from faults.tools.launch import ProxyProcess  # noqa: E402
from faults.tools.upstream import Upstream  # noqa: E402

PROFILER = Path(__file__).resolve().parent / "_cprofile_addon.py"
QUIET = Path(__file__).resolve().parent / "_quiet_timers.py"


class _Wrapped(ProxyProcess):
    """mitmdump with a command in front (valgrind), and extra scripts after the addon."""

    def __init__(self, prefix: list[str], scripts: list[Path], **kw):
        super().__init__(**kw)
        self.prefix, self.scripts = prefix, scripts

    def args(self):
        args = [sys.executable, *super().args()]
        for s in self.scripts:
            args += ["-s", str(s)]
        return self.prefix + args


def request_bytes(port: int) -> bytes:
    # what k6 (Go's net/http) sends
    return (f"GET /k?size=64 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: k6/0.57.0 (https://k6.io/)\r\n"
            "Accept-Encoding: gzip\r\n\r\n").encode()


def _read_response(sock: socket.socket, buf: bytearray) -> None:
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            m = re.search(rb"(?i)\r\ncontent-length: *(\d+)", bytes(buf[:end + 2]))
            need = end + 4 + (int(m.group(1)) if m else 0)
            if not buf.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"unexpected answer: {bytes(buf[:80])!r}")
            if len(buf) >= need:
                del buf[:need]
                return
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("the proxy closed the connection")
        buf += chunk


def load(port: int, conns: int, n: int, socks: list | None = None) -> list:
    """``n`` requests (rounded up to whole rounds over ``conns`` connections)."""
    if socks is None:
        socks = [(socket.create_connection(("127.0.0.1", port), timeout=300), bytearray()) for _ in range(conns)]
    req = request_bytes(port)
    for _ in range(-(-n // conns)):
        for s, _ in socks:
            s.sendall(req)
        for s, buf in socks:
            _read_response(s, buf)
    return socks


def _ctl(pid: int, *flags: str) -> None:
    subprocess.run(["callgrind_control", *flags, str(pid)], check=True, capture_output=True, timeout=300)


def measure(args) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="callgrind-"))
    keep = Path(args.keep) if args.keep else tmp
    keep.mkdir(parents=True, exist_ok=True)
    addon = None if args.addon == "none" else Path(args.addon).resolve() / "addons" / "errors.py"
    options = {"fault_plan": str(write_plan(tmp / "plan.yaml", args.rules))} if args.rules else {}
    if addon is not None:
        options["fault_status"] = False  # its live line is the same in every configuration; keep the log quiet
    out = keep / f"callgrind.{args.tag or 'run'}.out"
    prefix, scripts = [], [QUIET, *(Path(s).resolve() for s in args.script)]
    if args.profile:
        scripts.append(PROFILER)
    else:
        prefix = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--dump-instr=no",
                  "--separate-threads=no", *(["--cache-sim=yes"] if args.cache_sim else [])]
    env_out = keep / f"profile.{args.tag or 'run'}.json"
    os.environ["CPROFILE_OUT"] = str(env_out)
    with Upstream() as up:
        px = _Wrapped(prefix, scripts, mode=f"reverse:{up.url}", addon=addon, options=options)
        px.start(timeout=900)  # under valgrind, mitmproxy's imports alone take a minute
        try:
            return _run(args, px, out, env_out)
        finally:
            px.stop(timeout=120)


def _run(args, px, out: Path, env_out: Path) -> dict:
    socks = load(px.port, args.conns, args.warmup)
    pid = px.proc.pid
    if args.profile:
        os.kill(pid, signal.SIGUSR1)
        time.sleep(0.5)
    else:
        _ctl(pid, "-z")
    t0 = time.monotonic()
    load(px.port, args.conns, args.requests, socks)
    took = time.monotonic() - t0
    sent = -(-args.requests // args.conns) * args.conns
    if args.profile:
        env_out.unlink(missing_ok=True)
        os.kill(pid, signal.SIGUSR2)
        for _ in range(600):
            if env_out.exists() and env_out.stat().st_size:
                break
            time.sleep(0.1)
        calls = json.loads(env_out.read_text())
        return {"config": args.tag, "requests": sent, "profile": str(env_out),
                "calls_per_request": round(sum(c for c, _ in calls.values()) / sent, 1)}
    loaded = _dump(pid, out)
    # the same time idle (connections open, at most --idle s): what timers still cost
    time.sleep(min(took, args.idle))
    t1 = time.monotonic()
    _ctl(pid, "-z")
    time.sleep(min(took, args.idle))
    idle = _total(_dump(pid, out)) / (time.monotonic() - t1)
    for s, _ in socks:
        s.close()
    total = _total(loaded)
    res = {"config": args.tag, "rules": args.rules, "requests": sent, "seconds": round(took, 1),
           "ir_per_request": round(total / sent), "idle_ir_per_s": round(idle),
           "ir_per_request_net": round((total - idle * took) / sent), "dump": str(loaded)}
    if args.cache_sim:  # valgrind's simulated caches: misses per request, by level (see callgrind_annotate)
        res["per_request"] = {k: round(v / sent, 1) for k, v in _events(loaded).items()}
    return res


def _dump(pid: int, out: Path) -> Path:
    before = set(out.parent.glob(f"{out.name}.*"))
    _ctl(pid, "-d")
    return next(iter(set(out.parent.glob(f"{out.name}.*")) - before))  # callgrind_control -d writes OUT.N


def _total(path: Path) -> int:
    return _events(path)["Ir"]


def _events(path: Path) -> dict[str, int]:
    """The dump's totals by event (Ir; with --cache-sim also Dr, Dw, I1mr, D1mr, D1mw, ILmr, DLmr, DLmw)."""
    names = None
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("events:"):
            names = line.split()[1:]
        elif line.startswith(("summary:", "totals:")) and names:
            return dict(zip(names, map(int, line.split()[1:])))
    raise RuntimeError(f"no totals in {path}")


def diff(a: Path, b: Path, requests: int, top: int) -> None:
    """Call counts per request: the functions whose counts differ most between two profiles."""
    ca = {k: c for k, (c, _) in json.loads(a.read_text()).items()}
    cb = {k: c for k, (c, _) in json.loads(b.read_text()).items()}
    rows = sorted(((cb.get(k, 0) - ca.get(k, 0)) / requests, k) for k in set(ca) | set(cb))
    rows = [r for r in rows if abs(r[0]) >= 0.01]
    for d, k in sorted(rows, key=lambda r: -abs(r[0]))[:top]:
        print(f"{d:+8.2f}  {k}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--addon", default=str(ROOT), help="checkout whose addons/errors.py to load, or none (plain)")
    ap.add_argument("--rules", type=int, default=0)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--conns", type=int, default=4)
    ap.add_argument("--idle", type=float, default=10, help="seconds (at most) of idle measured after the load")
    ap.add_argument("--keep", help="directory for the dump (default: a temporary one)")
    ap.add_argument("--tag", default="")
    ap.add_argument("--profile", action="store_true", help="cProfile call counts instead of valgrind")
    ap.add_argument("--diff", nargs=2, metavar="JSON", help="compare two --profile outputs (per --requests)")
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--cache-sim", action="store_true",
                    help="also valgrind's simulated cache misses per request (I1/D1 and last level; ~2x slower)")
    ap.add_argument("--script", action="append", default=[],
                    help="another mitmdump -s script after the addon (an experiment: what a part costs if patched out)")
    args = ap.parse_args()
    if args.diff:
        diff(Path(args.diff[0]), Path(args.diff[1]), args.requests, args.top)
        return 0
    print(json.dumps(measure(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
