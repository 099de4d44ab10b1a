"""Reproducer: does mitmdump (with the fault addon) crash at shutdown after HTTP/3 traffic?

    .venv/bin/python -m bench.h3_shutdown --runs 60 [--signal TERM|INT] [--cores DIR]

Each run starts the proxy in ``reverse:https://`` in front of the local TLS upstream,
drives the HTTP/3 faults of tests/e2e/test_http3.py with curl (curl_cffi) and aioquic,
sends the signal, and records mitmdump's exit status (-11: SIGSEGV). With ``--cores``,
core dumps land in DIR (``ulimit -c unlimited``; core_pattern ``core`` writes to the cwd).
Prints one line per run and a summary: ``crashes k/N``.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

from faults.tools.launch import ProxyProcess
from faults.tools.upstream import Upstream

FAULTS = [
    "status code=503", "hang", "truncate", "rst_stream code=H3_REQUEST_CANCELLED",
    "rst_stream code=H3_INTERNAL_ERROR when=after_headers",
    "rst_stream code=H3_REQUEST_CANCELLED when=mid_request after_bytes=1000",
    "goaway", "quic_close code=PROTOCOL_VIOLATION space=transport reason=fault", "reset",
    "throttle bytes_per_s=8000", "h2_violation kind=bad_hpack",
]


def traffic(px: ProxyProcess, clients: list[str]) -> None:
    from tests.e2e.h3clients import aioquic_many, curl_many

    for client in clients:
        drive = curl_many if client == "curl" else aioquic_many
        for i, spec in enumerate(FAULTS):
            reqs = [(f"/w?size=10&case={client}-w{i}", {}), (f"/s?size=10&ms=300&case={client}-s{i}", {}),
                    (f"/f?size=2000&ms=100&case={client}-f{i}", {"x-fault": spec},
                     b"u" * 30_000 if "mid_request" in spec else None)]
            try:
                drive(px.port, px.ca_file, reqs, timeout=2)
            except Exception as e:  # the crash at shutdown is what is measured, not the answers
                print(f"  {client} {spec}: {e!r}", file=sys.stderr)


def left_open(px: ProxyProcess, i: int) -> threading.Thread:
    """An aioquic connection with a hung request in flight, started now and left open; returns
    about when its request is in flight (the proxy's record file has not seen it yet: a short wait)."""
    from tests.e2e.h3clients import aioquic_many

    def run():
        try:
            aioquic_many(px.port, px.ca_file, [(f"/h?ms=10000&case=open{i}", {})], timeout=15)
        except Exception:
            pass

    th = threading.Thread(target=run, daemon=True)
    th.start()
    time.sleep(0.5)
    return th


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=60)
    ap.add_argument("--signal", choices=["TERM", "INT"], default="TERM")
    ap.add_argument("--clients", default="curl,aioquic")
    ap.add_argument("--cores", type=Path, default=None)
    ap.add_argument("--quic-upstream", action="store_true",
                    help="dial the upstream over QUIC (fault_h3_upstream=quic): a second proxy in front of the "
                         "local upstream answers HTTP/3")
    ap.add_argument("--debug", action="store_true", help="termlog_verbosity=debug (mitmproxy_rs's debug lines too)")
    ap.add_argument("--no-addon", action="store_true", help="plain mitmdump, without the fault addon")
    ap.add_argument("--idle", type=float, default=0.0, help="seconds to wait after the traffic, before the signal")
    ap.add_argument("--open", type=int, default=0,
                    help="QUIC connections (aioquic) left open, a slow request (the upstream answers in 10 s) in flight on each, at the signal")
    args = ap.parse_args()
    if args.cores:
        args.cores.mkdir(parents=True, exist_ok=True)
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        os.chdir(args.cores)
    os.environ["PYTHONFAULTHANDLER"] = "1"
    sig = getattr(signal, f"SIG{args.signal}")
    crashes = 0
    with Upstream(tls=True) as up, ProxyProcess(mode=f"reverse:{up.url}", options={"ssl_insecure": True}) as b:
        target = f"https://127.0.0.1:{b.port}" if args.quic_upstream else up.url
        for run in range(args.runs):
            with tempfile.TemporaryDirectory() as tmp:
                px = ProxyProcess(mode=f"reverse:{target}", addon=None if args.no_addon else ProxyProcess().addon,
                                  options={"ssl_insecure": True,
                                           **({} if args.no_addon else {"fault_header": True,
                                                                        "fault_report": f"{tmp}/r.jsonl"}),
                                           **({"termlog_verbosity": "debug"} if args.debug else {}),
                                           **({"fault_h3_upstream": "quic"} if args.quic_upstream and not args.no_addon else {})})
                px.start()
                t0 = time.monotonic()
                traffic(px, [c for c in args.clients.split(",") if c])
                opened = [left_open(px, i) for i in range(args.open)]
                time.sleep(args.idle)
                px.proc.send_signal(sig)
                try:
                    rc = px.proc.wait(20)
                except Exception:
                    rc = "hung"
                try:
                    px.stop()
                except RuntimeError:  # ProxyCrashed: counted below, from the exit status
                    pass
                for th in opened:
                    th.join(0.1)  # daemon threads: they end at their own timeout
                crashed = rc != 0
                crashes += crashed
                tail = ""
                if crashed:
                    log = px.log()
                    i = log.find("Fatal Python error")
                    tail = "\n" + (log[i:i + 4000] if i >= 0 else log[-2000:])
                print(f"run {run + 1}/{args.runs}: exit {rc} ({time.monotonic() - t0:.1f} s){tail}", flush=True)
    print(f"crashes {crashes}/{args.runs}", flush=True)
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
