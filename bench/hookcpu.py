"""CPU inside the addon's hooks per request, on a live mitmdump under k6 (issue 22).

The end-to-end CPU ratio (``bench/run.py --only k6overhead``) moves by +-10-15% from
round to round on a shared machine; this one measures only what the addon adds in
its hooks (``time.process_time`` around each hook ``FaultAddon`` dispatches) and in
the collector (``gc.callbacks``), per request k6 completed, so it can say where the
addon's share goes. Loaded by mitmdump, this file is the addon (``FaultAddon`` with
its dispatch table timed); run as a program, it starts that mitmdump in reverse
mode to a local upstream and loads it with k6 (16 keep-alive VUs):

    python bench/hookcpu.py [--rounds 3] [--seconds 5] [--proto h1|h2] [--rules N]

``--rules N`` loads a plan of N rules none of which matches the flows (``bench/run.py``'s
configuration (b) with 1,000); 0, the default, runs with no plan.

Each round prints the proxy's CPU per request (/proc), the hooks' CPU per request and
the collector's; min and median over rounds at the end.
"""
import collections
import gc
import json
import os
import signal
import sys
import time

_spent: collections.Counter = collections.Counter()

if __name__ != "__main__":  # loaded by mitmdump: the timed addon
    import faults.addons as _fa

    def _timed_table(children, _orig=_fa.dispatch_table):
        def timed(name, call):
            def run(*args):
                t = time.process_time_ns()
                try:
                    return call(*args)
                finally:
                    _spent[name] += time.process_time_ns() - t
            return run
        return {name: timed(name, call) for name, call in _orig(children).items()}

    _fa.dispatch_table = _timed_table
    _gc_start = [0]

    def _gc(phase, info):
        if phase == "start":
            _gc_start[0] = time.process_time_ns()
        else:
            _spent["(collector)"] += time.process_time_ns() - _gc_start[0]

    gc.callbacks.append(_gc)

    def _dump(*_):  # SIGUSR1: write the totals so far, then start again from zero
        with open(os.environ["HOOKCPU_OUT"], "w") as f:
            json.dump(dict(_spent), f)
        _spent.clear()

    signal.signal(signal.SIGUSR1, _dump)
    addons = [_fa.FaultAddon()]


def main() -> int:
    import argparse
    import statistics
    import tempfile
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.run import cpu_seconds, k6keepalive, write_plan
    from faults.tools.launch import ProxyProcess
    from faults.tools.upstream import Upstream

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--proto", choices=("h1", "h2"), default="h1")
    ap.add_argument("--rules", type=int, default=0, help="non-matching rules in the plan (0: no plan)")
    args = ap.parse_args()
    out = Path(tempfile.mkdtemp(prefix="hookcpu-")) / "spent.json"
    options = {"fault_plan": str(write_plan(out.parent / "plan.yaml", args.rules))} if args.rules else {}
    os.environ["HOOKCPU_OUT"] = str(out)
    rows = []
    with Upstream() as up, ProxyProcess(mode=f"reverse:{up.url}", addon=Path(__file__).resolve(),
                                 options=options) as px:
        def load(secs):
            if args.proto == "h1":
                return k6keepalive(f"{px.url}/k?size=64", 16, secs, "HTTP/1.1")
            return k6keepalive(f"https://bench.test:{px.port}/k?size=64", 16, secs, "HTTP/2.0",
                               hosts={"bench.test": "127.0.0.1"})

        def totals() -> dict:
            out.unlink(missing_ok=True)
            os.kill(px.proc.pid, signal.SIGUSR1)
            for _ in range(100):
                if out.exists() and out.stat().st_size:
                    return json.loads(out.read_text())
                time.sleep(0.05)
            raise RuntimeError("the proxy did not write its totals")

        load(2)  # warm-up: imports, certificates, connections
        for r in range(args.rounds):
            totals()
            c0 = cpu_seconds(px.proc.pid)
            res = load(args.seconds)
            cpu = (cpu_seconds(px.proc.pid) - c0) / res["requests"] * 1e6
            spent = totals()
            n = res["requests"]
            gc_us = spent.pop("(collector)", 0) / n / 1000
            hooks = {k: v / n / 1000 for k, v in sorted(spent.items(), key=lambda kv: -kv[1])}
            rows.append((cpu, sum(hooks.values()), gc_us))
            print(f"round {r + 1}: {n} requests, proxy CPU {cpu:.0f} us/request, hooks {sum(hooks.values()):.1f} us "
                  f"({', '.join(f'{k} {v:.1f}' for k, v in hooks.items() if v >= 0.5)}), collector {gc_us:.1f} us")
    for i, what in enumerate(("proxy CPU", "hooks", "collector")):
        vals = [row[i] for row in rows]
        print(f"{what} us/request: min {min(vals):.1f}, median {statistics.median(vals):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
