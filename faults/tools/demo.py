"""The main job: see faults and their k6 codes at once.

Starts the embedded upstream, the proxy (reverse mode) with the default plan
(``faults/tools/demo_plan.yaml``), drives k6 through it over HTTP/1.1 and HTTP/2,
prints each fault with the code k6 reported and the code we annotated, then
keeps serving so you can point your own client at it.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

from faults.tools import k6run
from faults import report
from faults.tools.launch import ProxyProcess
from faults.tools.upstream import Upstream

PLAN = Path(__file__).with_name("demo_plan.yaml")
# hang before delay: over HTTP/2, k6 cancels the hung stream (RST_STREAM) as it sends its next
# request on the same connection; were that next request reset0, its reset could end the
# connection before the cancel arrived, and the hang's record would read the reset (1220) where
# k6 saw its own timeout (1050): a race the proxy cannot see through (seen in a CI run)
PATHS = ["ok", "status", "hang", "delay", "reset0", "reset1", "reset2", "close0", "close2",
         "truncate", "gzip", "slow", "flaky", "goaway", "rst"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="demo", description=__doc__.splitlines()[0])
    ap.add_argument("--once", action="store_true", help="exit after the k6 run instead of serving")
    ap.add_argument("--plan", default=str(PLAN), help="fault plan (default: the demo plan)")
    args = ap.parse_args(argv)

    # The temp folder holds mitmproxy's CA private key: removed on every exit path.
    with tempfile.TemporaryDirectory(prefix="faults-demo-") as tmp:
        return _run(args, Path(tmp))


def _run(args, workdir: Path) -> int:
    rep = workdir / "report.jsonl"
    with Upstream() as up:
        proxy = ProxyProcess(mode=f"reverse:{up.url}", confdir=workdir / "conf",
                             options={"fault_plan": args.plan, "fault_report": str(rep), "fault_header": True})
        proxy.start()
        try:
            print(f"upstream  {up.url}\nproxy     {proxy.url}  (reverse mode, plan {args.plan})\n")
            rows = []
            for proto, scheme, host in (("HTTP/1.1", "http", "127.0.0.1"), ("HTTP/2", "https", "demo.test")):
                cases = [{"id": f"{proto}-{p}", "url": f"{scheme}://{host}:{proxy.port}/demo/{p}?size=20000",
                          "timeout": "2s"} for p in PATHS]
                got = k6run.run(cases, env={"SSL_CERT_FILE": str(proxy.ca_file)}, hosts={"demo.test": "127.0.0.1"})
                rows.append((proto, got))
            time.sleep(0.5)
            ours = _by_case(report.read(rep))
            mismatches = _print_table(rows, ours)
            if args.once:
                return 1 if mismatches else 0
            print(f"\nStill serving. Try:\n  curl -si {proxy.url}/demo/status\n"
                  f"  curl -si {proxy.url}/anything -H 'x-fault: reset when=mid_body'\n"
                  f"Faults land in {rep} (one JSON line per flow, removed at exit); "
                  "the plan reloads when edited.\nCtrl-C to stop.")
            signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
            while proxy.proc.poll() is None:
                time.sleep(0.5)
            return 0
        except KeyboardInterrupt:
            return 0
        finally:
            proxy.stop()


def _by_case(records):
    out = {}
    for r in records:
        path = r["url"].split("/demo/")[-1].split("?")[0]
        proto = "HTTP/2" if r["http_version"].startswith("HTTP/2") else "HTTP/1.1"
        out[f"{proto}-{path}"] = r  # the last attempt is what k6 reports
    return out


def _print_table(rows, ours):
    w = max([5] + [len(r.get("fault") or "-") for r in ours.values()])  # whole fault names, never cut
    print(f"{'path':15} {'fault':{w}} {'proto':9} {'k6 reported':>11} {'annotated':>9}  match  k6 error")
    mismatches = 0
    for proto, got in rows:
        for p in PATHS:
            k = got[f"{proto}-{p}"]
            o = ours.get(f"{proto}-{p}", {})
            same = o.get("k6_error_code") == k["error_code"]
            mismatches += not same
            print(f"/demo/{p:9} {o.get('fault') or '-':{w}} {proto:9} {k['error_code']:>11} "
                  f"{o.get('k6_error_code', '?'):>9}  {'yes' if same else 'NO':5}  {k['error'] or ''}")
    print(f"\n{'all annotations match k6' if not mismatches else f'{mismatches} mismatch(es)'}")
    return mismatches


if __name__ == "__main__":
    sys.exit(main())
