"""Loaded by bench/callgrind.py --profile (``mitmdump -s``): cProfile on SIGUSR1, and on
SIGUSR2 off, with each function's call count and own time written to $CPROFILE_OUT as JSON
(and the collector's passes per generation meanwhile, as "(gc collections, generation N)")."""
import cProfile
import gc
import json
import os
import pstats
import signal

_prof = cProfile.Profile()
_gc_at_on: list = []


def _on(*_):
    _gc_at_on[:] = [s["collections"] for s in gc.get_stats()]
    _prof.enable()


def _off(*_):
    _prof.disable()
    st = pstats.Stats(_prof)
    out = {f"{os.path.basename(f)}:{ln}({fn})" if not f.startswith("~") else fn: [v[1], v[2]]
           for (f, ln, fn), v in st.stats.items()}
    for gen, (now, then) in enumerate(zip((s["collections"] for s in gc.get_stats()), _gc_at_on)):
        out[f"(gc collections, generation {gen})"] = [now - then, 0.0]
    with open(os.environ["CPROFILE_OUT"], "w") as fh:
        json.dump(out, fh)


signal.signal(signal.SIGUSR1, _on)
signal.signal(signal.SIGUSR2, _off)
addons = []
