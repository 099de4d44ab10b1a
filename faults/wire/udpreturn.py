"""A UDP client (QUIC, DNS) that comes back from the same address and port is served again.

mitmproxy_rs (0.12, ``src/network/udp.rs``) keeps each UDP four-tuple's state after
mitmproxy closes the connection, marked closed, for 60 s, and drops every datagram that
arrives for it meanwhile (each one renews the 60 s). A QUIC client whose next connection
leaves from the same port got no answer at all: no flow, no record, its handshake timed
out. Any client met it when its kernel handed a recent port back (the HTTP/3 test met it
twice in about 45 runs), and a client that keeps its port for a new connection met it every time.

DNS clients met the same: mitmproxy ends a UDP connection after 20 s without a datagram,
and a query from that port in the next 60 s got no answer.

``install`` wraps ``mitmproxy_rs.udp.start_udp_server`` so that each four-tuple's stream
has one reader for its whole life (``FourTuple.serve``). mitmproxy's connection handler gets a
``HeldStream``: it reads the datagrams that reader hands it, and its close is held back (the
Rust state stays open). Once that handler has ended, the next datagram starts a new handler,
as a new client would; on a four-tuple that began with QUIC, only a QUIC Initial with a
destination connection id not seen on it does (anything else is a late packet of the
connection that ended, and is dropped, as mitmproxy_rs dropped it). The stream ends when
mitmproxy_rs ends it: 60 s without a datagram, or the server's shutdown.

Private reliance: mitmproxy's ``mode_servers`` calls ``mitmproxy_rs.udp.start_udp_server``
through the module attribute, and ``handle_stream`` takes an explicit writer; guarded by
``tests/unit/wire/test_udpreturn.py``.
"""

from __future__ import annotations

import asyncio

import mitmproxy_rs
from aioquic.buffer import Buffer
from aioquic.quic.packet import QuicPacketType, pull_quic_header


def initial_dcid(datagram: bytes) -> bytes | None:
    """The destination connection id of the QUIC Initial packet this datagram starts with,
    or None when it starts with anything else."""
    try:
        header = pull_quic_header(Buffer(data=datagram), host_cid_length=8)
    except (TypeError, ValueError):
        return None
    if header.version is None or header.packet_type != QuicPacketType.INITIAL:
        return None
    return header.destination_cid


class HeldStream:
    """The stream mitmproxy's handler of one connection sees: the datagrams its four-tuple's
    reader hands it; ``close`` ends this connection, not the Rust stream."""

    def __init__(self, stream, first: bytes):
        self.stream = stream
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.queue.put_nowait(first)
        self.closing = False

    async def read(self, n: int) -> bytes:
        if self.closing:
            return b""
        return await self.queue.get()

    def write(self, data: bytes) -> None:
        if self.closing:
            raise OSError("connection closed")
        self.stream.write(data)

    async def drain(self) -> None:
        if self.closing:
            raise OSError("connection closed")
        await self.stream.drain()

    def write_eof(self) -> None:  # UDP has no half-close: mitmproxy_rs closes the whole stream too
        self.close()

    def close(self) -> None:
        if self.closing:
            return
        self.closing = True
        self.queue.put_nowait(b"")

    def is_closing(self) -> bool:
        return self.closing

    async def wait_closed(self) -> None:
        return None

    def get_extra_info(self, name, default=None):
        return self.stream.get_extra_info(name, default)


class FourTuple:
    """One UDP four-tuple: its single reader, and the connection currently served on it."""

    def __init__(self, stream, handle):
        self.stream = stream
        self.handle = handle  # mitmproxy's handle_stream(reader, writer)
        self.current: HeldStream | None = None
        self.quic = False  # it began with a QUIC Initial
        self.seen: set[bytes] = set()  # destination connection ids of the Initials that started one
        self.handlers: set[asyncio.Task] = set()

    async def serve(self) -> None:
        try:
            while True:
                data = await self.stream.read(65535)
                if not data:  # mitmproxy_rs ended the stream
                    break
                if self.current is not None and not self.current.closing:
                    self.current.queue.put_nowait(data)
                else:
                    self._start(data)
        finally:
            if self.current is not None:
                self.current.queue.put_nowait(b"")
            if self.handlers:
                await asyncio.wait(self.handlers)

    def _start(self, data: bytes) -> None:
        dcid = initial_dcid(data)
        if self.current is None:
            self.quic = dcid is not None
        elif self.quic and (dcid is None or dcid in self.seen):
            return  # a late datagram of the QUIC connection that ended, or its Initial again: dropped
        if dcid is not None:
            self.seen.add(dcid)
        held = self.current = HeldStream(self.stream, data)
        task = asyncio.create_task(self.handle(held, held), name="udp client connection")
        self.handlers.add(task)

        def ended(task: asyncio.Task) -> None:
            # mitmproxy's handler does not always close its stream: cancelled while it reports
            # the close (a fault closed the connection), it ends without. Its end is the close.
            self.handlers.discard(task)
            held.close()

        task.add_done_callback(ended)


def returning(handle):
    """The handler mitmproxy_rs calls for each new four-tuple, in place of ``handle``."""

    async def serve(stream) -> None:
        await FourTuple(stream, handle).serve()

    return serve


_installed = False


def install() -> None:
    """Wrap mitmproxy_rs's UDP server start (once per process), before any server starts."""
    global _installed
    if _installed:
        return
    start = mitmproxy_rs.udp.start_udp_server

    async def start_udp_server(host, port, handle_udp_stream):
        return await start(host, port, returning(handle_udp_stream))

    mitmproxy_rs.udp.start_udp_server = start_udp_server
    _installed = True
