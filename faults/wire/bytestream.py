"""A byte stream's act: one direction of a TCP connection as a chain of units.

Like Toxiproxy (``link.go``), each direction of a connection is a ``Link``: the
bytes mitmproxy writes towards the client (``downstream``) or the server
(``upstream``) enter a chain of stubs, one per unit (a Toxiproxy toxic, in the
order they were added), and leave through the sink to the real socket. Every
stub is its own task, so a chunk a unit delays never holds a later unit, the
other direction, or another connection; chunks keep their arrival time, so a
delay is measured from arrival (pipelined, not per chunk in turn).

Each stub is the ``StreamAct`` its unit's ``run(act)`` is given: the door to
the wire of the ``byte_stream`` hook of a fault kind (``faults/kinds/__init__.py``),
as ``Act`` is for an HTTP exchange. A hook loops over ``await act.next()``; it
``emit``s, ``drop``s, ``close``s (FIN, then the whole connection ends, as
Toxiproxy's ``stub.Close``) or ``reset``s (RST both ways). Whatever it holds
while it waits is in ``act.held``, so when the chain changes (a toxic added,
updated, removed) no byte is lost: pending chunks go, in order, into the new chain.

Nothing here knows mitmproxy: the sink writes to any asyncio-writer-like object
(``faults/wire/links.py`` swaps a connection's writers for links).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

UPSTREAM, DOWNSTREAM = "upstream", "downstream"
# pause reading the source while this many bytes wait in a chain (a stalled
# bandwidth toxic must not buffer a whole upload); resume below LOW
HIGH_WATER, LOW_WATER = 1 << 20, 256 << 10


@dataclass
class Chunk:
    data: bytes = b""
    ts: float = field(default_factory=time.monotonic)
    eof: str | None = None  # "half" (write_eof) or "close" (full close)

    def split(self, n: int) -> tuple["Chunk", "Chunk"]:
        """The first ``n`` bytes and the rest, both with this chunk's arrival time."""
        return Chunk(self.data[:n], self.ts), Chunk(self.data[n:], self.ts)


class StreamAct:
    """One unit (a toxic) on one link: its queue, what it holds, its per-connection state.

    ``toxic`` has ``type``, ``stateful`` (``state`` kept when it is updated), ``run(act)``
    and ``cleanup(act)`` (it is removed from a live connection)."""

    def __init__(self, link: "Link", name: str, toxic, active: bool, state=0):
        self.link, self.name, self.toxic, self.active, self.state = link, name, toxic, active, state
        self.q: asyncio.Queue[Chunk] = asyncio.Queue()
        self.back: Chunk | None = None  # put back by ``unget``: ``next`` returns it first
        self.held: Chunk | None = None
        self.out = None  # the next stub's put, or the sink's
        self.done = False
        self.task: asyncio.Task | None = None
        self.rng = link.rng

    def put(self, c: Chunk) -> None:
        if self.done:
            self.drop(c)
        else:
            self.q.put_nowait(c)

    async def next(self, timeout: float | None = None) -> Chunk | None:
        """The next chunk (data, or an end: ``chunk.eof``); None when ``timeout`` s pass first."""
        if self.back is not None:
            c, self.back = self.back, None
            return c
        if timeout is None:
            return await self.q.get()
        try:
            return await asyncio.wait_for(self.q.get(), timeout)
        except TimeoutError:
            return None

    def unget(self, c: Chunk) -> None:
        """``c`` is the next chunk again (a trigger that waited, then lets the kind act on it)."""
        self.back = c

    def emit(self, c: Chunk) -> None:
        self.out(c)

    def drop(self, c: Chunk) -> None:
        if c.data:  # an end of stream, or nothing: no bytes leave the chain's count
            self.link.account(-len(c.data))

    def close(self) -> None:
        self.done = True
        self.out(Chunk(eof="close"))

    def reset(self) -> None:
        self.done = True
        self.link.conn.reset(f"{self.toxic.type} toxic {self.name!r}")

    def end(self, how: str) -> None:
        """End the connection: ``"rst"`` (reset) or ``"fin"`` (close)."""
        if how == "rst":
            self.reset()
        else:
            self.close()

    @staticmethod
    async def pause(seconds: float | None) -> None:
        """Wait ``seconds`` (None: until the unit is removed or changed: the task is cancelled)."""
        if seconds is None:
            await asyncio.Event().wait()
        else:
            await asyncio.sleep(seconds)

    async def relay(self) -> None:
        """Pass everything on, unchanged, until the stream ends."""
        while True:
            c = await self.next()
            self.emit(c)
            if c.eof:
                return

    async def run(self) -> None:
        try:
            await (self.toxic.run(self) if self.active else self.relay())
        except asyncio.CancelledError:
            raise
        except Exception as e:  # never a traceback mid-traffic
            log.error(f"toxiproxy: toxic {self.name!r} failed: {e!r}")
            self.link.conn.reset(f"toxic {self.name!r} failed")
        self.done = True

    def pending(self) -> list[Chunk]:
        out = [c for c in (self.back, self.held) if c is not None]  # the oldest first
        self.back = None
        while not self.q.empty():
            out.append(self.q.get_nowait())
        self.held = None
        return out


class Link:
    """One direction of one connection: writes -> stubs -> the real writer."""

    def __init__(self, conn: "Conn", direction: str, raw, source_transport=None):
        self.conn, self.direction, self.raw = conn, direction, raw
        self.source = source_transport  # paused while too much waits here
        self.rng = conn.rng
        self.stubs: list[StreamAct] = []
        self.sink_q: asyncio.Queue[Chunk] = asyncio.Queue()
        self.sink_busy = False
        self.inflight = 0
        self.ended = False   # EOF/close written to the real socket, or aborted
        self.closing = False  # mitmproxy asked for a close: is_closing() from now on
        self.bytes = 0
        self._sink_task = asyncio.get_running_loop().create_task(self._sink())

    # -- what mitmproxy's writer calls ----------------------------------------------
    def write(self, data: bytes) -> None:
        if self.ended or self.closing or not data:
            return
        if not self.stubs and self.sink_q.empty() and not self.sink_busy:
            self._write_raw(data)  # no toxic: straight through, no task hop
            return
        self.account(len(data))
        self._first(Chunk(data))

    def eof(self, how: str) -> None:
        if self.ended:
            if how == "close":  # after a half close or an abort nothing is left to deliver:
                self.close_raw()  # the socket is mitmproxy's to close (its fd stays open otherwise)
            return
        if self.closing:
            return
        self.closing = how == "close"
        self._first(Chunk(eof=how))

    def _first(self, c: Chunk) -> None:
        (self.stubs[0].put if self.stubs else self.sink_q.put_nowait)(c)

    # -- the chain ------------------------------------------------------------------------
    def set_toxics(self, toxics: list[tuple[str, object, float]], removed: list[str] = ()) -> None:
        """(Re)build the chain for ``toxics`` (name, toxic, toxicity), in order.
        Pending chunks enter the new chain in order; a stub keeps its toxicity
        draw and state while its toxic is unchanged."""
        if self.ended:
            return
        old = {s.name: s for s in self.stubs}
        for s in self.stubs:
            if s.task:
                s.task.cancel()
        for name in removed:  # before collecting: a cleanup's close is pending like any chunk
            if name in old:
                old[name].toxic.cleanup(old[name])
        pending: list[Chunk] = []
        for s in reversed(self.stubs):  # the last stub holds the oldest bytes
            pending += s.pending()
        stubs = []
        for name, toxic, toxicity in toxics:
            prev = old.get(name)
            if prev is not None and prev.toxic is toxic and not prev.done:
                stub = StreamAct(self, name, toxic, prev.active, prev.state)
            else:
                stub = StreamAct(self, name, toxic, self.rng.random() < toxicity,
                            prev.state if prev is not None and toxic.stateful else 0)
            stubs.append(stub)
        for a, b in zip(stubs, stubs[1:]):
            a.out = b.put
        if stubs:
            stubs[-1].out = self.sink_q.put_nowait
        self.stubs = stubs
        for c in pending:
            self._first(c)
        for s in stubs:
            s.task = asyncio.get_running_loop().create_task(s.run())

    async def _sink(self) -> None:
        try:
            while True:
                c = await self.sink_q.get()
                self.sink_busy = True
                if c.eof:
                    self._end(c.eof)
                    return
                self.account(-len(c.data))
                self._write_raw(c.data)
                await self.raw.drain()
                self.sink_busy = not self.sink_q.empty()
        except (OSError, RuntimeError):
            self.abort()

    def _write_raw(self, data: bytes) -> None:
        if not self.raw.is_closing():
            self.bytes += len(data)
            self.raw.write(data)

    def _end(self, how: str) -> None:
        self.ended = True
        self._cancel_stubs()
        self._resume_source()
        try:
            if how == "half" and self.raw.can_write_eof() and not self.raw.is_closing():
                self.raw.write_eof()
            else:
                self.raw.close()
        except (OSError, RuntimeError):
            pass
        if self.closing:  # a close queued behind the half close: the sink stops here, so close now
            self.close_raw()
        self.conn.link_ended(self, how)

    def close_raw(self) -> None:
        try:
            if not self.raw.is_closing():
                self.raw.close()
        except (OSError, RuntimeError):
            pass

    def abort(self) -> None:
        """Stop now: nothing more is written (the connection is being reset or closed)."""
        self.ended = True
        self._cancel_stubs()
        self._resume_source()
        if self._sink_task and not self._sink_task.done() and self._sink_task is not asyncio.current_task():
            self._sink_task.cancel()

    def _cancel_stubs(self) -> None:
        for s in self.stubs:
            if s.task and s.task is not asyncio.current_task():
                s.task.cancel()

    # -- backpressure on the source ---------------------------------------------------------
    def account(self, n: int) -> None:
        self.inflight += n
        if self.source is None:
            return
        try:
            if self.inflight > HIGH_WATER and self.source.is_reading():
                self.source.pause_reading()
            elif self.inflight < LOW_WATER and not self.source.is_reading() and not self.source.is_closing():
                self.source.resume_reading()
        except (AttributeError, RuntimeError):
            pass

    def _resume_source(self) -> None:
        self.inflight = 0
        self.account(0)


class Conn:
    """A connection through a Toxiproxy proxy: its two links and how it ended."""

    def __init__(self, proxy_name: str, rng: random.Random, reset_fn, on_end=None):
        self.proxy_name, self.rng = proxy_name, rng
        self._reset_fn = reset_fn   # RST both sockets (wire)
        self._on_end = on_end
        self.links: dict[str, Link] = {}
        self.end: str | None = None  # "fin", "rst", "closed"
        self.why: str | None = None
        self.done = asyncio.Event()

    def add(self, link: Link) -> None:
        self.links[link.direction] = link

    def reset(self, why: str) -> None:
        if self.end == "rst":
            return
        self.end, self.why = "rst", why
        for link in self.links.values():
            link.abort()
        self._reset_fn()
        self._finished()

    def link_ended(self, link: Link, how: str) -> None:
        if how == "close":
            # Toxiproxy: a closed side ends the other too, after its pending bytes
            other = self.links.get(UPSTREAM if link.direction == DOWNSTREAM else DOWNSTREAM)
            if other is not None and not other.ended:
                other.eof("close")
        if all(l.ended for l in self.links.values()):
            self.end = self.end or ("closed" if how == "close" else "fin")
            self._finished()

    def abort(self, why: str) -> None:
        """The proxy was disabled or deleted: stop both links (the caller closes the sockets)."""
        if self.end is None:
            self.end, self.why = "closed", why
        for link in self.links.values():
            link.abort()
        self._finished()

    def shutdown(self, why: str) -> None:
        """Stop both links and close both sockets (a connection left lingering, shutdown)."""
        self.abort(why)
        for link in self.links.values():
            link.close_raw()

    def _finished(self) -> None:
        self.done.set()
        if self._on_end is not None:
            cb, self._on_end = self._on_end, None
            cb(self)
