"""Time in the plan: the run's clock (t0) and a rule's time and count gates.

A rule may say *when* it applies, beside the older gates (first, every,
probability, seed; ``faults.plan``):

- ``window: 30s..90s``: only between 30 and 90 seconds after t0 (either end may
  be left open: ``30s..``, ``..90s``);
- ``requests: 100..400``: only the 100th to the 400th request its filter matched
  (the same count ``first``/``every`` use: per worker, or across workers with
  ``gates: global``): exactly repeatable, whatever the timing;
- ``probability: 0.2..0.5``: ramped linearly over the window (the time window if
  it has both ends, else the requests window), or keyframes
  ``{0s: 0, 30s: 0.2, 90s: 0.5}`` (seconds after t0, linear between, held
  before the first and after the last);
- ``max_active: N``: at most N flows under this rule's fault at once (Envoy's
  ``max_active_faults``); the others pass unfaulted and are counted.

t0 is the first request the proxy sees (the control endpoint's own requests
aside), or set explicitly (``faults.t0``, ``POST /t0``). With ``--workers N``
every worker adopts the same t0: the first worker to see a request writes it
to a file in the workers' shared directory, under a lock, and the others read
it; an explicit t0 is written there and fanned out (``faults.fanout``).
"""

from __future__ import annotations

import fcntl
import math
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faults import numbers
from faults.errors import SpecError

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h)?\s*$", re.ASCII)  # digits 0-9 only
MAX_SECONDS = 30 * 86400  # a window end past 30 days is a typo
MAX_KEYFRAMES = 1000


# -- parsing -------------------------------------------------------------------

def seconds(value: Any, key: str) -> float:
    """``30s``, ``1.5s``, ``500ms``, ``2m``, ``1h`` or a bare number (seconds)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise SpecError(f"{key}={numbers.shown(value)}: expected a duration such as 30s, 500ms or 2m")
    m = _DURATION.match(str(value)) if len(str(value)) <= numbers.MAX_CHARS else None
    if not m:
        raise SpecError(f"{key}={numbers.shown(value)}: expected a duration such as 30s, 500ms or 2m "
                        f"({numbers.RULE}, at most {numbers.MAX_CHARS} characters)")
    s = numbers.real(m.group(1), key) * _UNITS[m.group(2) or "s"]
    if not math.isfinite(s) or s > MAX_SECONDS:
        raise SpecError(f"{key}={numbers.shown(value)}: at most {MAX_SECONDS // 86400} days")
    return s


def _split_range(value: Any, key: str, example: str) -> tuple[str, str]:
    if not isinstance(value, str) or ".." not in value:
        raise SpecError(f"{key}={numbers.shown(value)}: expected a range such as {example} (either end may be left open)")
    lo, _, hi = value.partition("..")
    if ".." in hi or not (lo.strip() or hi.strip()):
        raise SpecError(f"{key}={numbers.shown(value)}: expected a range such as {example} (either end may be left open)")
    return lo.strip(), hi.strip()


def window(value: Any, key: str = "window") -> tuple[float, float | None]:
    """``30s..90s`` -> (30.0, 90.0); an open end is 0 / None."""
    lo, hi = _split_range(value, key, "30s..90s")
    start = seconds(lo, key) if lo else 0.0
    end = seconds(hi, key) if hi else None
    if end is not None and end <= start:
        raise SpecError(f"{key}={numbers.shown(value)}: the end must be after the start")
    return start, end


def requests(value: Any, key: str = "requests") -> tuple[int, int | None]:
    """``100..400`` -> (100, 400), both counted from 1 and included."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = f"{value}.."
    lo, hi = _split_range(value, key, "100..400")
    out = []
    for part, default in ((lo, 1), (hi, None)):
        if not part:
            out.append(default)
        else:
            try:
                out.append(numbers.plain(part, key, 1))
            except SpecError:
                raise SpecError(f"{key}={numbers.shown(value)}: expected whole numbers >= 1 (the Nth request the "
                                f"rule's filter matched; {numbers.RULE})") from None
    if out[1] is not None and out[1] < out[0]:
        raise SpecError(f"{key}={numbers.shown(value)}: the end must not be before the start")
    return out[0], out[1]


def _p(value: Any, key: str) -> float:
    try:
        return numbers.real(value, key, 0, 1)
    except numbers.OutOfRange:
        raise SpecError(f"{key}={numbers.shown(value)}: must be from 0 to 1") from None


@dataclass(frozen=True)
class Ramp:
    """A probability that changes: linear between keyframes (x, p), held outside them.
    ``axis`` is "t" (seconds after t0) or "n" (the rule's match count)."""

    frames: tuple[tuple[float, float], ...]
    axis: str = "t"

    def at(self, x: float) -> float:
        f = self.frames
        if x <= f[0][0]:
            return f[0][1]
        for (x0, p0), (x1, p1) in zip(f, f[1:]):
            if x <= x1:
                return p0 + (p1 - p0) * (x - x0) / (x1 - x0)
        return f[-1][1]

    def describe(self):
        unit = "s" if self.axis == "t" else ""
        return {f"{x:g}{unit}": p for x, p in self.frames}


def probability(value: Any, key: str = "probability"):
    """A number, a ``LO..HI`` ramp (returned as (LO, HI), placed on its window by
    ``Timing``), or keyframes: a mapping ``{0s: 0, 30s: 0.2}`` or the inline
    ``0s:0,30s:0.2``."""
    if isinstance(value, str) and ".." in value:
        lo, hi = _split_range(value, key, "0.2..0.5")
        if not lo or not hi:
            raise SpecError(f"{key}={numbers.shown(value)}: a ramp needs both ends, e.g. 0.2..0.5")
        return _p(lo, key), _p(hi, key)
    if isinstance(value, str) and ":" in value:
        pairs = {}
        for item in value.split(","):
            at, sep, p = item.partition(":")
            if not sep:
                raise SpecError(f"{key}={numbers.shown(value)}: keyframes are TIME:P pairs separated by commas, e.g. 0s:0,30s:0.2")
            pairs[at.strip()] = p.strip()
        value = pairs
    if isinstance(value, dict):
        if not value or len(value) > MAX_KEYFRAMES:
            raise SpecError(f"{key}: keyframes need 1 to {MAX_KEYFRAMES} entries, e.g. {{0s: 0, 30s: 0.2, 90s: 0.5}}")
        frames = sorted((seconds(at, f"{key} keyframe"), _p(p, f"{key} at {at}")) for at, p in value.items())
        if len({x for x, _ in frames}) != len(frames):
            raise SpecError(f"{key}: two keyframes at the same time")
        return Ramp(tuple(frames))
    return _p(value, key)


def count(value: Any, key: str) -> int:
    return numbers.whole(value, key, 1)


# -- a rule's time and count gates -------------------------------------------------

@dataclass
class Timing:
    """The gates of one rule that read the clock, its match count or its flows in flight."""

    window: tuple[float, float | None] | None = None
    requests: tuple[int, int | None] | None = None
    ramp: Ramp | None = None
    max_active: int | None = None
    active: int = 0  # flows under the rule's fault now
    over_max: int = 0  # flows the rule chose but let pass: max_active were in flight

    @classmethod
    def build(cls, raw: dict) -> tuple["Timing | None", float | None]:
        """From the typed selection keys: the Timing (None: the rule has none of
        these gates) and the plain probability left for the rule, if any."""
        p = raw.get("probability")
        t = cls(window=raw.get("window"), requests=raw.get("requests"), max_active=raw.get("max_active"))
        if isinstance(p, tuple):
            lo, hi = p
            if t.window is not None and t.window[1] is not None:
                t.ramp = Ramp(((t.window[0], lo), (t.window[1], hi)))
            elif t.requests is not None and t.requests[1] is not None:
                t.ramp = Ramp(((t.requests[0], lo), (t.requests[1], hi)), axis="n")
            else:
                raise SpecError(f"probability={lo:g}..{hi:g}: a ramp runs over the rule's window; give a "
                                "window with both ends (window: 30s..90s) or requests: N..M, or keyframes "
                                "({0s: 0, 30s: 0.2})")
            p = None
        elif isinstance(p, Ramp):
            t.ramp, p = p, None
        if t.window is None and t.requests is None and t.ramp is None and t.max_active is None:
            return None, p
        return t, p

    def timed(self) -> bool:
        return self.window is not None or (self.ramp is not None and self.ramp.axis == "t")

    def admits(self, n: int, t: float | None) -> bool:
        """The window and requests gates for the n-th match at t seconds after t0."""
        if self.requests is not None:
            lo, hi = self.requests
            if n < lo or (hi is not None and n > hi):
                return False
        if self.window is not None:
            start, end = self.window
            if t is None or t < start or (end is not None and t >= end):
                return False
        return True

    def p(self, n: int, t: float | None) -> float:
        return self.ramp.at(n if self.ramp.axis == "n" else (t or 0.0))

    def take(self) -> bool:
        """A slot under max_active (False: full, counted)."""
        if self.max_active is not None and self.active >= self.max_active:
            self.over_max += 1
            return False
        self.active += 1
        return True

    def release(self) -> None:
        self.active = max(0, self.active - 1)

    def describe(self) -> dict:
        out: dict = {}
        if self.window is not None:
            out["window"] = [self.window[0], self.window[1]]
        if self.requests is not None:
            out["requests"] = [self.requests[0], self.requests[1]]
        if self.ramp is not None:
            out["ramp"] = {"axis": self.ramp.axis, "keyframes": [list(f) for f in self.ramp.frames]}
        if self.max_active is not None:
            out.update(max_active=self.max_active, active=self.active, over_max_active=self.over_max)
        return out


# -- the run's clock ---------------------------------------------------------------

class Clock:
    """t0 and the seconds since it, on the wall clock (shared by processes on one
    machine). With a shared directory (``--workers N``), t0 lives in its ``t0`` file."""

    def __init__(self):
        self.t0: float | None = None
        self.path: Path | None = None
        self._wall_minus_monotonic = time.time() - time.monotonic()  # read once: now()

    def share(self, directory: str | Path | None) -> None:
        self.path = Path(directory) / "t0" if directory else None

    def start(self, at: float | None = None) -> float:
        """t0, set now (to ``at``, the first request's arrival) if it was not set:
        with siblings, the t0 the first of them wrote wins."""
        if self.t0 is None:
            at = time.time() if at is None else at
            self.t0 = self._adopt(at) if self.path else at
        return self.t0

    def t(self, at: float | None = None) -> float | None:
        """Seconds from t0 to ``at`` (default now); None before t0."""
        if self.t0 is None:
            return None
        return (time.time() if at is None else at) - self.t0

    def now(self) -> float:
        """Seconds from t0 to now (t0 set now if nothing set it yet), counted on the monotonic
        clock and placed on ``t``'s axis by the wall clock read once: two readings compare
        right even if the wall clock is stepped between them."""
        now = time.monotonic() + self._wall_minus_monotonic
        return now - self.start(now)

    def set(self, t0: float | None, shared: bool = True) -> None:
        """An explicit t0 (None: the next request sets it); written for siblings when ``shared``."""
        self.t0 = t0
        if shared and self.path:
            self._locked(lambda fd: _write(fd, t0))

    def _adopt(self, at: float) -> float:
        def adopt(fd):
            seen = _read(fd)
            if seen is None:
                _write(fd, at)
                return at
            return seen
        return self._locked(adopt)

    def _locked(self, fn):
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            return fn(fd)
        finally:
            os.close(fd)  # closing releases the lock


def _read(fd) -> float | None:
    os.lseek(fd, 0, os.SEEK_SET)
    try:
        v = float(os.read(fd, 64).decode().strip())
    except ValueError:  # empty (no t0 yet), or cut by a crash mid-write
        return None
    return v if math.isfinite(v) else None


def _write(fd, t0: float | None) -> None:
    os.ftruncate(fd, 0)
    if t0 is not None:
        os.pwrite(fd, repr(t0).encode(), 0)


clock = Clock()
