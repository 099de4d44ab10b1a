"""Toxiproxy's seven toxics: their API shape, and what each one is in this product's fault kinds.

A toxic that means what a fault kind means *is* that kind (``MEANING``): its
attributes (Toxiproxy's JSON, any int64) become the kind's parameters, brought
inside the kind's own bounds and validated by the kind (``faults.numbers``), and
the kind's ``byte_stream`` hook does the work on the connection's byte stream
(``faults/wire/bytestream.py``: the chain of one direction, one stub per toxic).
``latency`` is ``delay``, ``bandwidth`` is ``throttle`` (``stall`` at rate 0),
``timeout`` is ``hang``, ``reset_peer`` is ``reset``, ``limit_data`` is ``close``.
Two toxics have no kind (``NoKind``, with why) and keep their own behaviour here:
``slow_close`` and ``slicer``. ``http`` (ours, ``faults/toxiproxy/api.py``) is a
fault spec itself, on the HTTP flows. docs/toxiproxy.md has the table.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Callable

from faults import kinds, numbers, spec as specmod
from faults.wire.bytestream import Chunk


@dataclass(frozen=True)
class AsKind:
    """The toxic is a fault kind: ``spec(attributes)`` names the kind and its parameters."""
    kinds: tuple[str, ...]  # the kinds it can be (which one: by its attributes)
    spec: Callable[[dict], tuple[str, dict]]
    # Toxiproxy's trigger, where the kind has no parameter for it: the kind acts this
    # attribute's ms after the first chunk (or end of stream) arrived
    after: str | None = None


@dataclass(frozen=True)
class NoKind:
    """The toxic has no fault kind of the same meaning: its class below does the work."""
    why: str


MEANING: dict[str, AsKind | NoKind] = {
    "latency": AsKind(("delay",), lambda a: ("delay", {"ms": a["latency"], "jitter_ms": a["jitter"]})),
    "bandwidth": AsKind(("throttle", "stall"), lambda a: ("throttle", {"bytes_per_s": a["rate"] * 1000})
                        if a["rate"] > 0 else ("stall", {"after_bytes": 0})),  # rate 0 (or less) stalls
    "timeout": AsKind(("hang",), lambda a: ("hang", {"ms": a["timeout"]} if a["timeout"] > 0 else {})),
    "reset_peer": AsKind(("reset",), lambda a: ("reset", {}), after="timeout"),
    "limit_data": AsKind(("close",), lambda a: ("close", {"after_bytes": a["bytes"]})),
    "slow_close": NoKind("delays the close (FIN) itself, the data untouched: no kind holds a connection's end"),
    "slicer": NoKind("cuts each write into small writes, every byte delivered: no kind changes how bytes are "
                     "split into segments"),
    "http": NoKind("not Toxiproxy's: a fault spec itself (any request-level kind), on the HTTP flows of the proxy"),
}


def within(kind: str, key: str, value):
    """A Toxiproxy int64 inside the kind's bounds for ``key`` (``latency: -5`` waits 0
    ms, as Toxiproxy's sleep does; beyond the kind's maximum, its maximum)."""
    if not isinstance(value, int):
        return value
    p = kinds.get(kind).params[key]
    lo, hi = numbers.limits(p.min, p.max)
    return int(min(max(value, lo), hi))


def as_fault(toxic_type: str, attrs: dict) -> kinds.Fault | None:
    """The fault a toxic is (None: a toxic of no kind)."""
    meaning = MEANING[toxic_type]
    if isinstance(meaning, NoKind):
        return None
    kind, params = meaning.spec(attrs)
    return kinds.instantiate(specmod.build(kind, {k: within(kind, k, v) for k, v in params.items()}))


# -- the toxics: attributes (Go field order, int64 defaults 0) ---------------------------------

class Toxic:
    type = ""
    attributes: dict[str, int] = {}   # name -> default, in Toxiproxy's JSON order
    stateful = False  # its per-connection state is kept when it is updated

    def __init__(self, **attrs):
        self.attrs = {**self.attributes, **attrs}
        self.fault = as_fault(self.type, self.attrs)

    def __getattr__(self, name):
        try:
            return self.__dict__["attrs"][name]
        except KeyError:
            raise AttributeError(name) from None

    async def run(self, act) -> None:
        """The kind's work on one direction's byte stream (``act``: a ``StreamAct``)."""
        after = MEANING[self.type].after
        if after is not None:  # armed by the first chunk (or end), which the kind then takes
            act.unget(await act.next())
            await asyncio.sleep(self.attrs[after] / 1000)  # 0 or negative: at once, as Go's time.After
        await self.fault.byte_stream(act)

    def cleanup(self, act) -> None:
        """Called when the toxic is removed from a live connection."""
        if self.fault is not None:
            self.fault.byte_stream_removed(act)


class Latency(Toxic):
    type = "latency"
    attributes = {"latency": 0, "jitter": 0}


class Bandwidth(Toxic):
    type = "bandwidth"
    attributes = {"rate": 0}  # KB/s (1000 bytes); 0 stalls, as in Toxiproxy


class Timeout(Toxic):
    type = "timeout"
    attributes = {"timeout": 0}


class ResetPeer(Toxic):
    type = "reset_peer"
    attributes = {"timeout": 0}


class LimitData(Toxic):
    type = "limit_data"
    attributes = {"bytes": 0}
    stateful = True  # bytes passed so far, kept when the toxic is updated


class SlowClose(Toxic):
    type = "slow_close"
    attributes = {"delay": 0}

    async def run(self, act):
        while True:
            c = await act.next()
            if c.eof:
                act.held = c
                await asyncio.sleep(self.delay / 1000)
                act.held = None
                return act.emit(c)
            act.emit(c)


class Slicer(Toxic):
    type = "slicer"
    attributes = {"average_size": 0, "size_variation": 0, "delay": 0}  # delay in microseconds

    def cuts(self, start: int, end: int, rng: random.Random) -> list[tuple[int, int]]:
        if (end - start) - self.average_size <= self.size_variation or end - start < 2:
            return [(start, end)]
        mid = start + (end - start) // 2
        if self.size_variation > 0:
            mid += rng.randrange(self.size_variation * 2) - self.size_variation
        # Go recurses without end (and crashes) for average_size 0 or a variation
        # larger than the average; here a slice is at least 1 byte
        mid = min(max(mid, start + 1), end - 1)
        return self.cuts(start, mid, rng) + self.cuts(mid, end, rng)

    async def run(self, act):
        while True:
            c = await act.next()
            if c.eof:
                return act.emit(c)
            for a, b in self.cuts(0, len(c.data), act.rng):
                act.held = Chunk(c.data[b:], c.ts) if b < len(c.data) else None
                act.emit(Chunk(c.data[a:b], c.ts))
                await asyncio.sleep(self.delay / 1_000_000)


TYPES: dict[str, type[Toxic]] = {t.type: t for t in (Latency, Bandwidth, SlowClose, Timeout, ResetPeer, Slicer, LimitData)}
