"""The one module that reaches past mitmproxy's addon API, to the client socket.

mitmproxy has no public way to send a TCP RST, to close a client connection at
a chosen moment, or to pace the bytes it writes. Its connection handler keeps
the client's ``asyncio.StreamWriter`` in
``proxyserver.connections[client.id].transports[client].writer`` (public
names, undocumented as addon API). Everything that depends on that lives
here (the handler itself: ``faults.wire.builtin.connection_of``);
``tests/unit/wire/test_sockets.py`` fails loudly if a mitmproxy upgrade moves it.

Rules learnt the hard way (see shared/mitmproxy-internals.md): never write raw
bytes to a TLS connection (they bypass the TLS layer); RST and FIN are safe.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import time

from mitmproxy.connection import ConnectionState

from faults.wire import builtin, quic

log = logging.getLogger(__name__)

# Versions the private lookups below were written against.
TESTED_MITMPROXY = "12.3"


def _transport_io(client_conn):
    handler = builtin.connection_of(client_conn)
    if handler is None:
        return None
    return handler.transports.get(handler.client)


def client_writer(client_conn) -> asyncio.StreamWriter | None:
    """The raw TCP writer of a live client connection, or None."""
    io = _transport_io(client_conn)
    w = getattr(io, "writer", None)
    while isinstance(w, (PacedWriter, HeldWriter)) or getattr(w, "wraps_stream", False):  # links.LinkWriter too
        w = w.inner
    return w if isinstance(w, asyncio.StreamWriter) else None


def client_gone(client_conn) -> bool:
    """The client closed (or we lost) its connection. Without a live proxy
    (unit tests) only the connection's own end timestamp counts."""
    if client_conn.timestamp_end is not None:
        return True
    if builtin.connection_of(client_conn) is None or client_conn.transport_protocol == "udp":
        return False  # QUIC: no socket of its own; mitmproxy sets timestamp_end when it ends
    w = client_writer(client_conn)
    return w is None or w.is_closing()


def client_eof(client_conn) -> bool:
    """The client has closed its side (or the connection is gone)."""
    io = _transport_io(client_conn)
    reader = getattr(io, "reader", None)
    if reader is None or client_conn.timestamp_end is not None:
        return True
    return reader.at_eof()


def write_raw(client_conn, data: bytes) -> bool:
    """Write bytes straight to the client socket. Only for bytes that no layer
    above would produce: before any TLS state exists (an alert record, plain
    HTTP in answer to a ClientHello) or the TLS engine's own unsent output.
    Never on an established TLS connection."""
    w = client_writer(client_conn)
    if w is None or w.is_closing():
        return False
    w.write(data)
    return True


def reset(client_conn) -> bool:
    """Abort the client's TCP connection with an RST (SO_LINGER 0 + abort)."""
    w = client_writer(client_conn)
    if w is None or w.transport.is_closing():
        return False
    sock = w.get_extra_info("socket")
    try:
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError as e:  # already dead
        log.debug("SO_LINGER failed: %s", e)
    w.transport.abort()
    return True


def close(client_conn) -> bool:
    """Send the client a plain FIN (after pending bytes) and write nothing more.

    A plain ``close()`` is not enough: if the client's bytes are still unread
    (HTTP/2 SETTINGS/WINDOW_UPDATE frames, a pipelined request), Linux answers
    the close with an RST. So we half-close (shutdown SHUT_WR sends the FIN),
    keep reading so the kernel has nothing to reset for, and swap in a writer
    that swallows whatever mitmproxy still wants to send; mitmproxy closes the
    socket itself once the client has closed its side.
    """
    io = _transport_io(client_conn)
    w = getattr(io, "writer", None)
    while isinstance(w, (PacedWriter, HeldWriter)) or getattr(w, "wraps_stream", False):  # links.LinkWriter too
        w = w.inner
    if not isinstance(w, asyncio.StreamWriter) or w.transport.is_closing():
        return False
    try:
        w.write_eof()
    except (OSError, RuntimeError):
        w.close()
        return True
    io.writer = _HalfClosed(w)
    # what mitmproxy's own half-close records: its reader task then ends at the client's
    # EOF instead of waiting for a close command that no layer sends after a TLS alert
    client_conn.state &= ~ConnectionState.CAN_WRITE
    return True


class _WriterStandIn:
    """What mitmproxy uses of an ``asyncio.StreamWriter``, forwarded to the real
    one; the stand-ins below override only what they change."""

    def __init__(self, inner: asyncio.StreamWriter):
        self.inner = inner

    @property
    def transport(self):
        return self.inner.transport

    def get_extra_info(self, name, default=None):
        return self.inner.get_extra_info(name, default)

    def is_closing(self) -> bool:
        return self.inner.is_closing()

    def write(self, data: bytes) -> None:
        self.inner.write(data)

    def write_eof(self) -> None:
        self.inner.write_eof()

    def can_write_eof(self) -> bool:
        return self.inner.can_write_eof()

    def close(self) -> None:
        self.inner.close()

    async def drain(self) -> None:
        await self.inner.drain()

    async def wait_closed(self) -> None:
        await self.inner.wait_closed()


class _HalfClosed(_WriterStandIn):
    """The writer of a connection we have FIN'd: reports closing, writes nothing."""

    def is_closing(self) -> bool:
        return True

    def write(self, data: bytes) -> None:
        pass

    def write_eof(self) -> None:
        pass

    async def drain(self) -> None:
        pass


async def flushed(client_conn, grace: float = 0.05, limit: float = 5.0) -> None:
    """Wait until every byte handed to the client socket has left our buffers,
    then ``grace`` more seconds so the peer has read it before an RST lands."""
    deadline = time.monotonic() + limit
    await asyncio.sleep(0)
    while time.monotonic() < deadline:
        io = _transport_io(client_conn)
        w = getattr(io, "writer", None)
        if w is None or w.is_closing():
            return
        if not isinstance(w, (PacedWriter, HeldWriter)) and not hasattr(w, "transport"):
            break  # a QUIC client (mitmproxy_rs datagram stream): no byte buffer of its own to wait for
        pending = w.pending() if isinstance(w, (PacedWriter, HeldWriter)) else w.transport.get_write_buffer_size()
        if not pending:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(grace)


def throttle(client_conn, bytes_per_s: int) -> bool:
    """Pace everything written to this client until the current burst is out."""
    io = _transport_io(client_conn)
    w = getattr(io, "writer", None)
    if not (isinstance(w, asyncio.StreamWriter) or getattr(w, "wraps_stream", False)):
        return False
    io.writer = PacedWriter(w, bytes_per_s, restore=lambda pw: _restore(io, pw))
    return True


def _restore(io, paced) -> None:
    if io.writer is paced:
        io.writer = paced.inner


def hold_writes(client_conn, seconds: float | None) -> "HeldWriter | None":
    """Hold everything written to this client for ``seconds`` (None: until it goes
    away), then let it out in order. Past ``HeldWriter.LIMIT`` held bytes, ``drain()``
    waits, so the upstream is held back too instead of buffered without bound."""
    io = _transport_io(client_conn)
    w = getattr(io, "writer", None)
    if not isinstance(w, asyncio.StreamWriter):
        return None
    held = HeldWriter(w, restore=lambda hw: _restore(io, hw))
    io.writer = held
    if seconds is not None:
        asyncio.get_running_loop().call_later(seconds, held.release)
    return held


class HeldWriter(_WriterStandIn):
    """A StreamWriter stand-in that keeps what is written until ``release()``."""

    LIMIT = 1 << 20  # bytes held before drain() makes mitmproxy wait
    def __init__(self, inner: asyncio.StreamWriter, restore):
        super().__init__(inner)
        self._restore = restore
        self._buf = bytearray()
        self.released = asyncio.Event()

    def write(self, data: bytes) -> None:
        if self.released.is_set():
            self.inner.write(data)
        else:
            self._buf += data

    def write_eof(self) -> None:
        self.release()
        self.inner.write_eof()

    def close(self) -> None:  # the connection ends (the client went away): nothing more to send
        self._buf.clear()
        self.released.set()
        self._restore(self)
        self.inner.close()

    async def drain(self) -> None:
        # mitmproxy awaits drain with the connection's event lock held: blocking here
        # would also stop it from seeing the client give up (a cancel, its FIN). So only
        # a large backlog waits (backpressure to the upstream), in bounded steps.
        while len(self._buf) > self.LIMIT and not self.released.is_set() and not self.inner.is_closing():
            try:
                await asyncio.wait_for(self.released.wait(), 0.05)
            except asyncio.TimeoutError:
                pass
        if not self.inner.is_closing():
            await self.inner.drain()

    def pending(self) -> int:
        return len(self._buf) + self.inner.transport.get_write_buffer_size()

    def release(self) -> None:
        if self.released.is_set():
            return
        self.released.set()
        self._restore(self)
        if self._buf and not self.inner.is_closing():
            self.inner.write(bytes(self._buf))
        self._buf.clear()


def close_leftovers(client_conn, delay: float = 1.0) -> bool:
    """Close, ``delay`` seconds after the client left, the sockets (the client's
    and its server connections') that its connection handler left open.

    mitmproxy 12.3 closes a connection's socket at the end of the task that
    reads it; a task cancelled while it waits for the server-event lock (or in
    a hook between connecting and reading) never reaches its ``writer.close()``,
    and the socket stays open for good: an upstream connection ESTABLISHED, or
    the client's in CLOSE-WAIT (measured: a few per hundred requests under
    concurrent HTTP/2 faults). Call from ``client_disconnected``, while the
    handler still exists."""
    handler = builtin.connection_of(client_conn)
    if handler is None:
        return False
    transports = handler.transports

    def sweep():
        for conn, io in list(transports.items()):
            w = getattr(io, "writer", None)
            w = getattr(w, "inner", w)  # PacedWriter / _HalfClosed wrap the real one
            if isinstance(w, asyncio.StreamWriter) and not w.is_closing():
                log.debug("closing a socket mitmproxy left open: %s", conn)
                w.close()

    asyncio.get_running_loop().call_later(delay, sweep)
    return True


async def close_clients(timeout: float = 2.0) -> None:
    """At shutdown: close every client connection still open and wait (bounded)
    for mitmproxy's connection handlers to finish. Otherwise the event loop
    cancels them on exit and asyncio prints a CancelledError traceback for
    each one (held flows and idle keep-alive clients alike)."""
    for handler in builtin.open_connections():
        io = handler.transports.get(handler.client)
        w = getattr(io, "writer", None)
        w = getattr(w, "inner", w)  # PacedWriter / _HalfClosed wrap the real one
        if isinstance(w, asyncio.StreamWriter) and not w.is_closing():
            w.close()
        elif handler.client.transport_protocol == "udp" and w is not None and not w.is_closing():
            # a QUIC client (a mitmproxy_rs datagram stream): told first with CONNECTION_CLOSE
            # H3_NO_ERROR (else it waits for its idle timeout), then closed here, its handler
            # ends now, while the loop runs (faults.wire.servers: why nothing of mitmproxy_rs
            # may be left to the interpreter's exit)
            try:
                quic.close_for_shutdown(handler.layer.context, w.write, asyncio.get_running_loop().time())
            except Exception as e:  # the client then waits for its idle timeout, as before
                log.warning(f"no CONNECTION_CLOSE to QUIC client {handler.client.peername} at shutdown: {e!r}")
            w.close()
    deadline = time.monotonic() + timeout
    while builtin.open_connections() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)


def stream_cancelled(flow) -> bool:
    """True when the client has reset this flow's HTTP/2 stream.

    While an addon hook is pending, mitmproxy parks the layer's events in the
    stream's ``_paused_event_queue`` (private); the flow only learns of the
    cancel after the hook returns. We peek at it, as mitmproxy's own
    ``check_killed`` does.
    """
    from mitmproxy.proxy.layers.http import HttpLayer
    from mitmproxy.proxy.layers.http import RequestProtocolError

    handler = builtin.connection_of(flow.client_conn)
    layer = getattr(handler, "layer", None)
    seen = 0
    while layer is not None and seen < 32:
        seen += 1
        if isinstance(layer, HttpLayer):
            for stream in layer.streams.values():
                if getattr(stream, "flow", None) is flow:
                    return any(
                        isinstance(e, RequestProtocolError)
                        for e in getattr(stream, "_paused_event_queue", ())
                    )
            return False
        layer = getattr(layer, "child_layer", None) or getattr(layer, "layer", None)
    return False


class PacedWriter(_WriterStandIn):
    """A StreamWriter stand-in that lets bytes out at ``rate`` bytes/s.

    mitmproxy awaits ``drain()`` on every writer after each read, so holding
    drain until our queue is empty also slows reading from the upstream: the
    throttle applies backpressure end to end instead of buffering the body.
    """

    TICK = 0.02

    def __init__(self, inner: asyncio.StreamWriter, rate: int, restore):
        super().__init__(inner)
        self.rate = max(1, int(rate))
        self._restore = restore
        self._buf = bytearray()
        self._pump_task: asyncio.Task | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._close_after = False
        self._eof_after = False

    def is_closing(self) -> bool:
        return self._close_after or self.inner.is_closing()

    def write(self, data: bytes) -> None:
        if not data:
            return
        self._buf += data
        self._idle.clear()
        if self._pump_task is None or self._pump_task.done():
            self._pump_task = asyncio.get_running_loop().create_task(self._pump())

    def write_eof(self) -> None:
        if self._buf:
            self._eof_after = True
        else:
            self.inner.write_eof()

    def close(self) -> None:
        if self._buf:
            self._close_after = True
        else:
            self.inner.close()

    async def drain(self) -> None:
        await self._idle.wait()
        await self.inner.drain()

    def pending(self) -> int:
        return len(self._buf) + self.inner.transport.get_write_buffer_size()

    # -- pacing ------------------------------------------------------------
    async def _pump(self) -> None:
        step = max(1, int(self.rate * self.TICK))
        try:
            while self._buf and not self.inner.is_closing():
                piece = bytes(self._buf[:step])
                del self._buf[:step]
                self.inner.write(piece)
                await asyncio.sleep(len(piece) / self.rate)
        finally:
            self._buf.clear()
            self._idle.set()
            if self._close_after:
                self.inner.close()
            elif self._eof_after and not self.inner.is_closing():
                self.inner.write_eof()
            self._restore(self)


# -- listeners the DNS faults point clients at -------------------------------------

def http_listen_address() -> tuple[str, int] | None:
    """(IPv4 address, port) of the proxy's first non-DNS listener: the address the DNS
    mode answers for names no fault selects. A wildcard bind answers 127.0.0.1."""
    server = builtin.proxyserver_or_none()
    if server is None:
        return None
    for inst in server.servers:
        if type(inst.mode).__name__ in ("DnsMode", "WireGuardMode"):
            continue
        for addr in inst.listen_addrs:
            host, port = addr[0], addr[1]
            if ":" in host:
                continue
            return ("127.0.0.1" if host == "0.0.0.0" else host), port
    return None


_blackholes: dict[tuple[str, int], list[socket.socket]] = {}


def blackhole(address: str, port: int) -> bool:
    """A listener on ``address:port`` that never accepts, its accept queue filled
    (backlog 0 holds one connection), so the kernel drops every further SYN: a
    client's dial times out. Opened once, kept until ``close_blackholes``."""
    key = (address, port)
    if key in _blackholes:
        return True
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind(key)
        lsock.listen(0)
        filler.settimeout(1.0)
        filler.connect(key)  # completes: the queue had room for this one, and is full now
    except OSError as e:
        log.warning(f"blackhole {address}:{port}: cannot open ({e.strerror or e})")
        lsock.close()
        filler.close()
        return False
    _blackholes[key] = [lsock, filler]
    return True


def close_blackholes() -> None:
    for socks in _blackholes.values():
        for s in socks:
            s.close()
    _blackholes.clear()


def refused(address: str, port: int, timeout: float = 0.2) -> bool | None:
    """True when a connect to ``address:port`` is refused (what ``refuse`` promises),
    False when something accepts it, None when it neither does within ``timeout``."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((address, port))
        return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return None
    finally:
        s.close()


# -- the request side: answering before the body, pacing uploads ----------------------

def answer_early(client_conn, data: bytes) -> bool:
    """Plain HTTP/1.1 only: write a complete response now, before the request body is
    read, then FIN and keep reading (a lingering close: mitmproxy still consumes the
    body, so the kernel has no unread bytes to answer with an RST). What mitmproxy
    writes afterwards is swallowed (``close``)."""
    if client_conn.tls:
        return False
    return write_raw(client_conn, data) and close(client_conn)


def throttle_reads(client_conn, bytes_per_s: int) -> bool:
    """Read from this client at ``bytes_per_s`` until ``unthrottle_reads``: mitmproxy's
    read loop looks ``reader.read`` up on every pass, so an instance attribute paces it;
    the kernel's buffers then fill and the client's writes wait (slow upload reading)."""
    io = _transport_io(client_conn)
    reader = getattr(io, "reader", None)
    if not isinstance(reader, asyncio.StreamReader) or "read" in vars(reader):
        return False
    inner = reader.read
    rate = max(1, int(bytes_per_s))
    step = max(1, rate // 50)

    async def paced(n: int = -1) -> bytes:
        data = await inner(step if n < 0 else min(n, step))
        if data:
            await asyncio.sleep(len(data) / rate)
        return data

    reader.read = paced
    return True


def unthrottle_reads(client_conn) -> None:
    io = _transport_io(client_conn)
    reader = getattr(io, "reader", None)
    if reader is not None and "read" in vars(reader):
        del reader.read
