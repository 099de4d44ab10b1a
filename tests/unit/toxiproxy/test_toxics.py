"""The toxic chain (faults/toxiproxy/toxics.py) on a fake socket: pipelined
latency, stacking, a stall released on removal, limit_data, toxicity."""

import asyncio
import random
import time

from faults.toxiproxy.toxics import Bandwidth, Latency, LimitData
from faults.wire.bytestream import Conn, Link


class Raw:
    def __init__(self):
        self.got, self.eof, self.closed = [], False, False

    def write(self, d):
        self.got.append((time.monotonic(), d))

    def write_eof(self):
        self.eof = True

    def can_write_eof(self):
        return True

    def close(self):
        self.closed = True

    def is_closing(self):
        return self.closed

    async def drain(self):
        pass


def link(toxics):
    conn = Conn("p", random.Random(1), lambda: None)
    raw = Raw()
    lk = Link(conn, "downstream", raw)
    conn.add(lk)
    lk.set_toxics(toxics)
    return lk, raw, conn


def test_latency_is_pipelined_and_stacks():
    async def go():
        lk, raw, _ = link([("a", Latency(latency=100), 1.0), ("b", Latency(latency=50), 1.0)])
        t0 = time.monotonic()
        lk.write(b"1")
        await asyncio.sleep(0.05)
        lk.write(b"2")
        await asyncio.sleep(0.3)
        (t1, d1), (t2, d2) = raw.got
        assert (d1, d2) == (b"1", b"2")
        assert 0.15 <= t1 - t0 < 0.2 and 0.2 <= t2 - t0 < 0.26  # each 150 ms after it arrived
    asyncio.run(go())


def test_stall_is_released_in_order_when_the_toxic_goes():
    async def go():
        cut = Bandwidth(rate=0)
        lk, raw, _ = link([("cut", cut, 1.0)])
        lk.write(b"a")
        lk.write(b"b")
        await asyncio.sleep(0.05)
        assert raw.got == []
        lk.set_toxics([], removed=["cut"])
        lk.write(b"c")
        await asyncio.sleep(0.05)
        assert b"".join(d for _, d in raw.got) == b"abc"
    asyncio.run(go())


def test_limit_data_closes_the_connection_and_toxicity_zero_passes():
    async def go():
        lk, raw, conn = link([("ld", LimitData(bytes=3), 1.0)])
        lk.write(b"12345")
        await asyncio.sleep(0.02)
        assert b"".join(d for _, d in raw.got) == b"123" and raw.closed and conn.end == "closed"
        lk2, raw2, _ = link([("ld", LimitData(bytes=3), 0.0)])
        lk2.write(b"12345")
        await asyncio.sleep(0.02)
        assert b"".join(d for _, d in raw2.got) == b"12345" and not raw2.closed
    asyncio.run(go())


def test_removing_a_timeout_closes_the_connections_it_held():
    from faults.toxiproxy.toxics import Timeout

    async def go():
        lat = Latency(latency=10)
        lk, raw, conn = link([("to", Timeout(timeout=0), 1.0), ("lat", lat, 1.0)])
        lk.write(b"dropped")
        await asyncio.sleep(0.02)
        lk.set_toxics([("lat", lat, 1.0)], removed=["to"])  # Toxiproxy's Cleanup: the stub closes
        await asyncio.sleep(0.05)
        assert raw.got == [] and raw.closed
    asyncio.run(go())
