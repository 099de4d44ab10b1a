"""The timeline's numbers: each record's time, the buckets, the counts per outcome.

A record's time is its ``t`` (seconds from the run's t0 to the request's start:
the clock the rules' windows read, ``faults.gates``) when it has one; otherwise it is derived from ``ts`` (epoch seconds, when the
record was written): seconds after the earliest record, shifted by ``ts - t`` of
the records that carry both, so the two kinds line up in one file.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from faults.classify.fields import k6_code_label

WIDTHS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)  # seconds per bucket
SHORT = (0.5, 0.2, 0.1)  # for a run under MIN_BUCKETS seconds
MIN_BUCKETS = 20
MAX_BUCKETS = 300
RECORD_TYPES = ("flow", "tls_handshake", "dns", "websocket", "connection")


KEPT = ("record", "t", "ts", "duration_ms", "k6_error_code", "rule", "fault", "window", "ramp")  # what the page reads


def is_proxy_record(obj: dict) -> bool:
    """A proxy report record (k6's ``--out json`` lines are not)."""
    return obj.get("record") in RECORD_TYPES or ("k6_error_code" in obj and "ts" in obj)


def slim(obj: dict) -> dict | None:
    """What the page reads of a proxy record (a long run's report need not fit in memory
    whole: outcomes, facts and annotations are left out); None for any other object."""
    if not is_proxy_record(obj):
        return None
    out = {k: obj[k] for k in KEPT if k in obj}
    clients = obj.get("clients")
    if isinstance(clients, dict):
        out["clients"] = {n: {"error": r.get("error")} for n, r in clients.items() if isinstance(r, dict)}
    return out


def times(records: list[dict]) -> tuple[list[float], str]:
    """Each record's time in seconds after t0, and where those came from: ``t``
    (every record has one), ``ts`` (derived) or ``t+ts`` (some of each)."""
    have_t = [r for r in records if _num(r.get("t")) is not None]
    if len(have_t) == len(records):
        return [float(r["t"]) for r in records], "t"
    shifts = [r["ts"] - r["t"] for r in have_t if _num(r.get("ts")) is not None]
    stamps = [r["ts"] for r in records if _num(r.get("ts")) is not None]
    origin = min(shifts) if shifts else (min(stamps) if stamps else 0.0)
    out = []
    for r in records:
        t = _num(r.get("t"))
        if t is None:
            ts = _num(r.get("ts"))
            t = ts - origin if ts is not None else 0.0
        out.append(max(0.0, t))
    return out, ("t+ts" if have_t else "ts")


def _num(v) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def bucket_width(span: float) -> float:
    """The smallest width in ``WIDTHS`` that keeps the run within ``MAX_BUCKETS`` buckets; a
    run shorter than ``MIN_BUCKETS`` seconds gets at least that many (down to 0.1 s)."""
    if span < MIN_BUCKETS:
        return next((w for w in SHORT if span / w >= MIN_BUCKETS), SHORT[-1])
    for w in WIDTHS:
        if span / w <= MAX_BUCKETS:
            return w
    return math.ceil(span / MAX_BUCKETS)


def outcome_order(counts: Counter) -> list[str]:
    """``0`` (no error) first, then the others by count (most first), then by name."""
    return sorted(counts, key=lambda k: (k != "0", -counts[k], k))


@dataclass
class Timeline:
    width: float  # seconds per bucket
    buckets: int
    end: float  # seconds: the axis runs from 0 to here
    source: str  # where the times came from (``times``)
    outcomes: list[str] = field(default_factory=list)  # in stacking order
    counts: dict[str, list[int]] = field(default_factory=dict)  # outcome -> count per bucket
    injected: dict[str, list[int]] = field(default_factory=dict)  # rule -> injected per bucket
    totals: Counter = field(default_factory=Counter)  # outcome -> count over the run

    def start(self, i: int) -> float:
        """Bucket ``i``'s start, in seconds (rounded: 3 * 0.1 is 0.30000000000000004)."""
        return round(i * self.width, 6)

    def bucket_of(self, t: float) -> int:
        return min(int(round(t / self.width, 9)), self.buckets - 1)  # round: 0.3 / 0.1 is 2.9999...

    @property
    def peak(self) -> int:
        """The most records in one bucket (all outcomes)."""
        return max((sum(c[i] for c in self.counts.values()) for i in range(self.buckets)), default=0)


def build(records: list[dict], extra_end: float = 0.0) -> Timeline:
    """Bucket ``records`` by time and outcome (``k6_code_label``) and each
    rule's injections; ``extra_end``: a time the axis must reach (a plan window's end)."""
    ts, source = times(records)
    end = max([*ts, extra_end, 0.0])
    width = bucket_width(end)
    n = int(round(end / width, 9)) + 1  # the bucket [k*width, (k+1)*width) of the latest time is the last
    tl = Timeline(width=width, buckets=n, end=round(n * width, 6), source=source)
    for rec, t in zip(records, ts):
        i = tl.bucket_of(t)
        label = k6_code_label(rec)
        tl.totals[label] += 1
        tl.counts.setdefault(label, [0] * n)[i] += 1
        rule = rec.get("rule")
        if rule:
            tl.injected.setdefault(str(rule), [0] * n)[i] += 1
    tl.outcomes = outcome_order(tl.totals)
    return tl
