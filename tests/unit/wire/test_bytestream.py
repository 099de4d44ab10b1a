"""The byte-stream act (faults/wire/bytestream.py): a chunk put back with ``unget`` is
the next one, and a chain change hands it on, in order, with what the stub held."""

import asyncio
import random

from faults.wire.bytestream import Chunk, Conn, Link
from tests.waiting import wait_until_async


class Raw:
    def __init__(self):
        self.got = []

    def write(self, d):
        self.got.append(d)

    def is_closing(self):
        return False

    async def drain(self):
        pass


class Holds:
    """Takes two chunks: puts the first back, holds the second, then waits."""
    type, stateful = "holds", False

    async def run(self, act):
        first, second = await act.next(), await act.next()
        act.unget(first)
        act.held = second
        await act.pause(None)

    def cleanup(self, act):
        pass


def test_unget_and_held_re_enter_a_new_chain_in_order():
    async def go():
        conn = Conn("p", random.Random(1), lambda: None)
        raw = Raw()
        lk = Link(conn, "downstream", raw)
        conn.add(lk)
        lk.set_toxics([("h", Holds(), 1.0)])
        for d in (b"1", b"2", b"3"):
            lk.write(d)
        await asyncio.sleep(0.02)  # kept: the subject (nothing passes while the toxic holds)
        assert raw.got == []
        lk.set_toxics([], removed=["h"])
        await wait_until_async(lambda: len(raw.got) == 3, 5, "the three chunks handed on", fail=False)  # compared below
        return raw.got

    assert asyncio.run(go()) == [b"1", b"2", b"3"]


def test_a_chunk_splits_keeping_its_arrival_time():
    head, rest = Chunk(b"abcdef", 1.5).split(2)
    assert (head.data, rest.data, head.ts, rest.ts) == (b"ab", b"cdef", 1.5, 1.5)
