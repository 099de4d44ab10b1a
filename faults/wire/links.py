"""Raw TCP toxics (``faults.toxiproxy``): the writers of one connection, swapped for chains.

Why not the ``tcp_message`` hook: a hook is blocking, and while it runs
mitmproxy queues every other event of that connection. Measured: an addon
awaiting 300 ms in ``tcp_message`` for server->client messages delayed client
bytes sent 50 ms later by 251-252 ms (5 runs); through these links the same
bytes were 0.6-0.9 ms late (``tests/e2e/test_toxiproxy_python.py`` asserts it). So each direction's writer,
``proxyserver.connections[client.id].transports[conn].writer`` (the same
undocumented names ``sockets.py`` relies on), is replaced by a ``LinkWriter``
feeding a ``bytestream.Link``; the hook still records the messages.

``tests/unit/wire/test_sockets.py`` fails loudly if a mitmproxy upgrade moves them.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct

from faults.wire import builtin

log = logging.getLogger(__name__)


def _raw(w):
    while w is not None and not isinstance(w, asyncio.StreamWriter) and hasattr(w, "inner"):
        w = w.inner
    return w if isinstance(w, asyncio.StreamWriter) else None


class LinkWriter:
    """Stands in for a StreamWriter: what mitmproxy writes goes into a Link.

    ``drain`` never waits: mitmproxy drains every writer of a connection under
    one lock after each read, so waiting here would stall the other direction.
    The link pauses reading from its source instead (``bytestream.HIGH_WATER``)."""

    wraps_stream = True  # sockets.py looks through it for the raw socket (RST, FIN, pacing)

    def __init__(self, inner: asyncio.StreamWriter, link):
        self.inner, self.link = inner, link

    @property
    def transport(self):
        return self.inner.transport

    def get_extra_info(self, name, default=None):
        return self.inner.get_extra_info(name, default)

    def write(self, data: bytes) -> None:
        self.link.write(bytes(data))

    def write_eof(self) -> None:
        self.link.eof("half")

    def can_write_eof(self) -> bool:
        return True

    def close(self) -> None:
        self.link.eof("close")

    def is_closing(self) -> bool:
        return self.link.closing or self.link.ended or self.inner.is_closing()

    async def drain(self) -> None:
        return None

    async def wait_closed(self) -> None:
        await self.inner.wait_closed()


def link_client(client, make_link) -> bool:
    """At ``client_connected``, before any byte: what is written to the client
    goes through ``make_link("downstream", raw_writer)``."""
    handler = builtin.connection_of(client)
    io = handler.transports.get(client) if handler is not None else None
    raw = _raw(getattr(io, "writer", None))
    if raw is None:
        return False
    io.writer = LinkWriter(raw, make_link("downstream", raw))
    return True


def link_server(client, server, make_link) -> bool:
    """At ``server_connected``: what is written to this server connection goes
    through ``make_link("upstream", raw_writer)``; each link's source (paused
    when too much waits in it) is the other socket."""
    handler = builtin.connection_of(client)
    if handler is None:
        return False
    c_io, s_io = handler.transports.get(client), handler.transports.get(server)
    c_raw, s_raw = _raw(getattr(c_io, "writer", None)), _raw(getattr(s_io, "writer", None))
    if c_raw is None or s_raw is None:
        return False
    up = make_link("upstream", s_raw)
    up.source = c_raw.transport
    s_io.writer = LinkWriter(s_raw, up)
    if isinstance(c_io.writer, LinkWriter):
        c_io.writer.link.source = s_raw.transport
    return True


def _writers(client) -> list[asyncio.StreamWriter]:
    handler = builtin.connection_of(client)
    if handler is None:
        return []
    return [w for io in list(handler.transports.values()) if (w := _raw(getattr(io, "writer", None)))]


def reset(client) -> None:
    """RST the client and its server connection (SO_LINGER 0 + abort)."""
    for w in _writers(client):
        sock = w.get_extra_info("socket")
        try:
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        w.transport.abort()


def close(client) -> bool:
    """Close the client's socket and its server connection's (FIN), now."""
    ws = _writers(client)
    for w in ws:
        if not w.is_closing():
            w.close()
    return bool(ws)


def raw_tcp(nextlayer) -> None:
    """In ``next_layer``: relay bytes as they are (no TLS interception, no HTTP parsing)."""
    from mitmproxy.proxy.layers import TCPLayer

    if not isinstance(nextlayer.layer, TCPLayer):
        nextlayer.layer = TCPLayer(nextlayer.context)
