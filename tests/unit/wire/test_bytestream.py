"""The byte-stream act (faults/wire/bytestream.py): a chunk put back with ``unget`` is
the next one, and a chain change hands it on, in order, with what the stub held; a link
closes its socket when mitmproxy closes it, also after a half close or an abort."""

import asyncio
import random

from faults.wire.bytestream import Chunk, Conn, Link
from tests.fakes import FakeWriter
from tests.waiting import wait_until_async


class Raw(FakeWriter):
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


def _link():
    conn = Conn("p", random.Random(1), lambda: None)
    raw = Raw()
    lk = Link(conn, "upstream", raw)
    conn.add(lk)
    return conn, lk, raw


def test_a_close_after_a_half_close_closes_the_socket():
    """mitmproxy half-closes (write_eof), then closes the writer when it is done with the
    connection: the socket is closed then (before, the ended link ignored it and the fd
    stayed open until the garbage collector found the transport)."""
    async def go():
        conn, lk, raw = _link()
        lk.eof("half")
        await wait_until_async(lambda: lk.ended, 5, "the half close written")
        assert (raw.eof, raw.closed) == (True, False)  # half: the other direction still reads
        lk.eof("close")
        return raw.closed

    assert asyncio.run(go()) is True


def test_a_close_queued_behind_a_half_close_closes_the_socket():
    async def go():
        conn, lk, raw = _link()
        lk.eof("half")
        lk.eof("close")  # before the sink has written the half close
        await wait_until_async(lambda: lk.ended, 5, "the link's end written")
        return raw.eof, raw.closed

    assert asyncio.run(go()) == (True, True)


def test_a_close_after_an_abort_closes_the_socket():
    """A proxy deleted: its connections' links are aborted; what mitmproxy closes later is closed."""
    async def go():
        conn, lk, raw = _link()
        conn.abort("proxy disabled or deleted")
        assert raw.closed is False
        lk.eof("close")
        return raw.closed, conn.end

    assert asyncio.run(go()) == (True, "closed")
