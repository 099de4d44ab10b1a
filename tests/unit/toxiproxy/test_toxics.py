"""The toxics (faults/toxiproxy/toxics.py): each is the fault kind it means, or says why
it has none (the table test); and on the chain on a fake socket: pipelined latency,
stacking, a stall released on removal, limit_data, toxicity, reset_peer, timeout."""

import asyncio
import json
import random
import re
import time
from pathlib import Path

import pytest

from faults import kinds
from faults.kinds import Fault
from faults.spec import build
from faults.toxiproxy.api import ALL_TYPES, Api, Backend, Proxy
from faults.toxiproxy.toxics import (MEANING, AsKind, Bandwidth, LimitData, Latency, NoKind, ResetPeer, Timeout,
                                     Toxic, as_fault)
from faults.wire.bytestream import Conn, Link
from tests.fakes import FakeWriter
from tests.waiting import wait_until_async


class Raw(FakeWriter):
    """Each write with its time; ``order`` (a list shared by several sockets): the order of their writes."""

    def __init__(self, order=None):
        super().__init__()
        self.order = order

    def write(self, d):
        self.got.append((time.monotonic(), d))
        if self.order is not None:
            self.order.append(d)


def link(toxics, order=None):
    conn = Conn("p", random.Random(1), lambda: None)
    raw = Raw(order)
    lk = Link(conn, "downstream", raw)
    conn.add(lk)
    lk.set_toxics(toxics)
    return lk, raw, conn


def test_latency_stacks():
    async def go():
        lk, raw, _ = link([("a", Latency(latency=100), 1.0), ("b", Latency(latency=50), 1.0)])
        t0 = time.monotonic()
        lk.write(b"1")
        await asyncio.sleep(0.05)  # kept: the subject (the second chunk 50 ms after the first)
        lk.write(b"2")
        await wait_until_async(lambda: len(raw.got) == 2, 5, "both chunks delivered", seen=lambda: raw.got)
        (t1, d1), (t2, d2) = raw.got
        assert (d1, d2) == (b"1", b"2")
        assert t1 - t0 >= 0.15 and t2 - t0 >= 0.2  # each at least 150 ms after it arrived: sleeps are never early
    asyncio.run(go())


def test_latency_is_pipelined():
    """A chunk's latency counts from its own arrival, not from when the chunk queued before it
    left. Told by the order of writes, not by timing them: "2", written right behind "1" through
    200 ms, leaves at its arrival + 200 ms, before "x", written after it on another connection
    through 300 ms; queued behind "1" it would leave >= 400 ms after it arrived, after "x"."""
    async def go():
        order = []
        lk, _, _ = link([("a", Latency(latency=200), 1.0)], order)
        other, _, _ = link([("a", Latency(latency=300), 1.0)], order)
        lk.write(b"1")
        lk.write(b"2")
        other.write(b"x")
        await wait_until_async(lambda: len(order) == 3, 5, "the three chunks delivered", seen=lambda: order)
        return order

    assert asyncio.run(go()) == [b"1", b"2", b"x"]


def test_stall_is_released_in_order_when_the_toxic_goes():
    async def go():
        cut = Bandwidth(rate=0)
        lk, raw, _ = link([("cut", cut, 1.0)])
        lk.write(b"a")
        lk.write(b"b")
        await asyncio.sleep(0.05)  # kept: the subject (nothing passes while the toxic holds)
        assert raw.got == []
        lk.set_toxics([], removed=["cut"])
        lk.write(b"c")
        await wait_until_async(lambda: len(b"".join(d for _, d in raw.got)) >= 3, 5, "the held bytes released",
                               fail=False)  # compared below
        assert b"".join(d for _, d in raw.got) == b"abc"
    asyncio.run(go())


def test_limit_data_closes_the_connection_and_toxicity_zero_passes():
    async def go():
        lk, raw, conn = link([("ld", LimitData(bytes=3), 1.0)])
        lk.write(b"12345")
        await wait_until_async(lambda: raw.closed, 5, "the connection closed at the limit", fail=False)
        assert b"".join(d for _, d in raw.got) == b"123" and raw.closed and conn.end == "closed"
        lk2, raw2, _ = link([("ld", LimitData(bytes=3), 0.0)])
        lk2.write(b"12345")
        await wait_until_async(lambda: len(b"".join(d for _, d in raw2.got)) >= 5, 5, "every byte passed", fail=False)
        assert b"".join(d for _, d in raw2.got) == b"12345" and not raw2.closed
    asyncio.run(go())


def test_removing_a_timeout_closes_the_connections_it_held():
    async def go():
        lat = Latency(latency=10)
        lk, raw, conn = link([("to", Timeout(timeout=0), 1.0), ("lat", lat, 1.0)])
        lk.write(b"dropped")
        await asyncio.sleep(0.02)  # kept: the subject (the bytes reach the timeout toxic before it goes)
        lk.set_toxics([("lat", lat, 1.0)], removed=["to"])  # Toxiproxy's Cleanup: the stub closes
        await wait_until_async(lambda: raw.closed, 5, "the held connection closed", fail=False)  # checked below
        assert raw.got == [] and raw.closed
    asyncio.run(go())


# -- each toxic is the fault kind it means (MEANING), or says why it has none -------------------

INT64 = (-(1 << 63), -1, 0, 1, (1 << 63) - 1)


def test_every_toxic_is_a_kind_or_says_why_not():
    """A toxic added to the API without a line in MEANING fails here: it must be the
    kind it means (its behaviour in the kind's stream hook) or say why it has none."""
    assert set(ALL_TYPES) == set(MEANING)
    for name, cls in ALL_TYPES.items():
        meaning = MEANING[name]
        assert isinstance(meaning, (AsKind, NoKind)), name
        if isinstance(meaning, AsKind):
            assert cls.run is Toxic.run, f"{name} is {meaning.kinds}: the kind does the work, not the toxic"
            for kind in meaning.kinds:
                assert kinds.get(kind).byte_stream is not Fault.byte_stream, f"{kind} has no byte_stream hook for {name}"
            assert meaning.after is None or meaning.after in cls.attributes
        else:
            assert meaning.why
            assert name == "http" or cls.run is not Toxic.run, f"{name} has no kind: its class runs it"


@pytest.mark.parametrize("toxic, attrs, kind, params", [
    ("latency", {"latency": 100, "jitter": 5}, "delay", {"ms": 100, "jitter_ms": 5}),
    ("latency", {"latency": -5, "jitter": -1}, "delay", {"ms": 0, "jitter_ms": 0}),  # Go sleeps 0
    ("latency", {"latency": 1 << 40}, "delay", {"ms": 3_600_000}),  # the kind's maximum
    ("bandwidth", {"rate": 200}, "throttle", {"bytes_per_s": 200_000}),  # KB/s
    ("bandwidth", {"rate": 0}, "stall", {"after_bytes": 0}),
    ("bandwidth", {"rate": -3}, "stall", {"after_bytes": 0}),  # Go panics; here it stalls like 0
    ("timeout", {"timeout": 300}, "hang", {"ms": 300}),
    ("timeout", {"timeout": 0}, "hang", {}),  # never closes
    ("timeout", {"timeout": -1}, "hang", {}),
    ("reset_peer", {"timeout": 100}, "reset", {"when": "before_response"}),
    ("limit_data", {"bytes": 10}, "close", {"after_bytes": 10, "when": "mid_body"}),
    ("limit_data", {"bytes": -10}, "close", {"after_bytes": 0, "when": "mid_body"}),
])
def test_the_kind_and_parameters_of_a_toxic(toxic, attrs, kind, params):
    fault = ALL_TYPES[toxic](**attrs).fault
    assert fault.kind == kind
    assert {k: fault.get(k) for k in params} == params


@pytest.mark.parametrize("toxic", [t for t, m in MEANING.items() if isinstance(m, AsKind)])
def test_any_int64_attribute_makes_a_valid_fault(toxic):
    """The API accepts any int64, as Toxiproxy does: the kind's bounds never turn one into an error."""
    cls = ALL_TYPES[toxic]
    for key in cls.attributes:
        for v in INT64:
            assert as_fault(toxic, {**cls.attributes, key: v}).kind in MEANING[toxic].kinds
    api = Api(Backend())
    api.proxies["p"] = Proxy("p", "127.0.0.1:1", "x:1")  # made, not started: no listener
    body = json.dumps({"type": toxic, "attributes": {k: (1 << 63) - 1 for k in cls.attributes}}).encode()
    assert asyncio.run(api.handle("POST", "/proxies/p/toxics", {}, body))[0] == 200


def test_no_kind_toxics_have_no_fault():
    assert [t for t, m in MEANING.items() if isinstance(m, NoKind)] == ["slow_close", "slicer", "http"]
    assert all(ALL_TYPES[t]().fault is None for t in ("slow_close", "slicer", "http"))


def test_the_docs_table_names_every_toxic_and_its_kinds():
    doc = (Path(__file__).resolve().parents[3] / "docs" / "toxiproxy.md").read_text()
    rows = {m.group(1): ln for ln in doc.splitlines() if (m := re.match(r"\| `([a-z_]+)`", ln))}
    for toxic, meaning in MEANING.items():
        assert toxic in rows, f"docs/toxiproxy.md: no row for {toxic}"
        for kind in getattr(meaning, "kinds", ()):
            assert f"`{kind}" in rows[toxic], f"docs/toxiproxy.md: the {toxic} row does not name {kind}"
        if isinstance(meaning, NoKind):
            assert "no kind" in rows[toxic], f"docs/toxiproxy.md: the {toxic} row does not say it has no kind"


# -- the kinds' byte-stream hooks, through the toxics ------------------------------------------

def test_reset_peer_resets_both_ways_its_timeout_after_the_first_chunk_or_end():
    async def go(first):
        lk, raw, conn = link([("rp", ResetPeer(timeout=50), 1.0)])
        t0 = time.monotonic()
        if first == "data":
            lk.write(b"x")
        else:
            lk.eof("half")
        await asyncio.wait_for(conn.done.wait(), 5)
        return time.monotonic() - t0, conn, raw

    for first in ("data", "eof"):
        took, conn, raw = asyncio.run(go(first))
        assert took >= 0.05 and conn.end == "rst" and conn.why == "reset_peer toxic 'rp'" and raw.got == []


def test_timeout_drops_and_closes_after_silence_restarting_on_each_chunk():
    async def go():
        lk, raw, conn = link([("to", Timeout(timeout=80), 1.0)])
        t0 = time.monotonic()
        for _ in range(3):
            lk.write(b"dropped")
            await asyncio.sleep(0.04)  # kept: the subject (each chunk restarts the silence)
        await asyncio.wait_for(conn.done.wait(), 5)
        return time.monotonic() - t0, raw, conn

    took, raw, conn = asyncio.run(go())
    assert raw.got == [] and raw.closed and conn.end == "closed" and took >= 0.08 + 0.08


def test_bandwidth_paces_a_tenth_of_a_second_at_a_time():
    async def go():
        lk, raw, _ = link([("bw", Bandwidth(rate=10), 1.0)])  # 10 KB/s: 1000 bytes per 100 ms
        lk.write(b"a" * 2500)
        await asyncio.sleep(0.05)  # kept: the subject (nothing leaves before the first 100 ms)
        early = [len(d) for _, d in raw.got]
        await wait_until_async(lambda: sum(len(d) for _, d in raw.got) == 2500, 5, "every byte paced out",
                               fail=False)  # compared below
        return early, [len(d) for _, d in raw.got]

    early, sizes = asyncio.run(go())
    assert early == [] and sizes == [1000, 1000, 500]  # the first piece leaves after its 100 ms


def test_limit_data_counts_across_an_update_and_passes_an_end_within_the_limit():
    async def go():
        first = LimitData(bytes=5)
        lk, raw, conn = link([("ld", first, 1.0)])
        lk.write(b"123")
        await wait_until_async(lambda: raw.got, 5, "the first 3 bytes passed")
        lk.set_toxics([("ld", LimitData(bytes=6), 1.0)])  # updated: 3 already passed
        lk.write(b"4567")
        await wait_until_async(lambda: conn.end, 5, "the connection's end at the limit", fail=False)  # checked below
        lk2, raw2, conn2 = link([("ld", LimitData(bytes=5), 1.0)])
        lk2.write(b"12")
        lk2.eof("half")
        await wait_until_async(lambda: raw2.eof, 5, "the half-close passed on", fail=False)  # checked below
        return raw, conn, raw2, conn2

    raw, conn, raw2, conn2 = asyncio.run(go())
    assert b"".join(d for _, d in raw.got) == b"123456" and conn.end == "closed"
    assert b"".join(d for _, d in raw2.got) == b"12" and raw2.eof and not raw2.closed


def test_a_stall_passes_after_bytes_then_pauses_for_ms():
    """stall after_bytes=N ms=M on a stream (bandwidth uses it at rate 0, with neither)."""
    class Unit:
        type, stateful = "stall", False
        fault = kinds.instantiate(build("stall", {"after_bytes": 2, "ms": 80}))

        async def run(self, act):
            await self.fault.byte_stream(act)

    async def go():
        lk, raw, _ = link([("s", Unit(), 1.0)])
        t0 = time.monotonic()
        lk.write(b"12345")
        await asyncio.sleep(0.02)  # kept: the subject (what passed before the 80 ms pause ends)
        before = b"".join(d for _, d in raw.got)
        await wait_until_async(lambda: len(raw.got) == 2, 5, "the rest after the pause", fail=False)  # compared below
        lk.write(b"6")
        await wait_until_async(lambda: len(raw.got) == 3, 5, "the next chunk", fail=False)  # compared below
        return before, raw.got, t0

    before, got, t0 = asyncio.run(go())
    assert before == b"12" and [d for _, d in got] == [b"12", b"345", b"6"]
    assert got[1][0] - t0 >= 0.08
