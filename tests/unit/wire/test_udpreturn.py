"""faults.wire.udpreturn: one reader per UDP four-tuple, a new QUIC Initial after the last
connection ended starts a new one; and the mitmproxy parts it relies on."""

from __future__ import annotations

import asyncio
import inspect

import mitmproxy_rs
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from mitmproxy.proxy import mode_servers

from faults.wire import udpreturn
from faults.wire.udpreturn import FourTuple, initial_dcid


def _initial() -> tuple[bytes, bytes]:
    """A real client's first datagram (aioquic's), and its destination connection id."""
    quic = QuicConnection(configuration=QuicConfiguration(is_client=True, alpn_protocols=["h3"]))
    quic.connect(("127.0.0.1", 443), now=0.0)
    (data, _), *_ = quic.datagrams_to_send(now=0.0)
    return data, quic._peer_cid.cid


def test_mitmproxy_starts_udp_servers_through_the_module_attribute_and_passes_a_writer():
    # install() replaces mitmproxy_rs.udp.start_udp_server: mode_servers must look it up at call time
    src = inspect.getsource(mode_servers)
    assert "mitmproxy_rs.udp.start_udp_server(" in src
    assert "from mitmproxy_rs.udp import" not in src
    params = inspect.signature(mode_servers.ServerInstance.handle_stream).parameters
    assert list(params)[1:3] == ["reader", "writer"]  # HeldStream is passed as both (no isinstance check)
    assert {"read", "write", "drain", "close", "is_closing", "wait_closed", "get_extra_info"} <= set(dir(mitmproxy_rs.Stream))


def test_install_wraps_the_udp_server_start_once():
    udpreturn.install()
    first = mitmproxy_rs.udp.start_udp_server
    udpreturn.install()
    assert mitmproxy_rs.udp.start_udp_server is first
    assert first.__name__ == "start_udp_server" and first.__module__ == udpreturn.__name__


def test_initial_dcid():
    data, dcid = _initial()
    assert initial_dcid(data) == dcid and len(dcid) == 8
    assert initial_dcid(b"\x12\x34\x01\x00\x00\x01" + b"\x00" * 20) is None  # a DNS query
    assert initial_dcid(b"\x40" + b"\x00" * 30) is None  # a short-header (1-RTT) packet
    assert initial_dcid(b"") is None


class FakeStream:
    def __init__(self):
        self.incoming: asyncio.Queue = asyncio.Queue()
        self.closed = False
        self.sent = []

    async def read(self, n):
        return await self.incoming.get()

    def write(self, data):
        self.sent.append(data)

    def close(self):
        self.closed = True
        self.incoming.put_nowait(b"")  # mitmproxy_rs: a closed stream reads empty

    def get_extra_info(self, name, default=None):
        return ("127.0.0.1", 5000) if name == "peername" else default


def _run(datagrams_then, close_after: int | None = 1, handler_closes: bool = True):
    """Feed datagrams (None: let the loop run) to one four-tuple; each handler reads
    ``close_after`` datagrams, then closes (or just ends). What each handler read."""

    async def main():
        stream = FakeStream()
        got: list[list[bytes]] = []

        async def handle(reader, writer):
            mine = []
            got.append(mine)
            while len(mine) < close_after:
                data = await reader.read(65535)
                if not data:
                    break
                mine.append(data)
            if handler_closes:
                writer.close()

        serving = asyncio.create_task(FourTuple(stream, handle).serve())
        for d in datagrams_then:
            if d is not None:
                stream.incoming.put_nowait(d)
            for _ in range(5):
                await asyncio.sleep(0)
        stream.incoming.put_nowait(b"")
        await asyncio.wait_for(serving, 5)
        return got, stream

    return asyncio.run(main())


def test_a_new_initial_after_the_connection_ended_starts_a_new_one():
    a, _ = _initial()
    b, _ = _initial()
    got, stream = _run([a, a, b, b"late"], close_after=1)
    assert got == [[a], [b]]  # a's retransmitted Initial and the late datagram are dropped
    assert not stream.closed  # held: mitmproxy_rs would drop the four-tuple's datagrams for 60 s


def test_datagrams_of_a_live_connection_go_to_it():
    a, _ = _initial()
    b, _ = _initial()
    got, _ = _run([a, b"one", b], close_after=3)
    assert got == [[a, b"one", b]]  # an Initial while a connection lives is that connection's


def test_a_handler_that_ends_without_closing_ends_its_connection():
    a, _ = _initial()
    b, _ = _initial()
    got, _ = _run([a, b], close_after=1, handler_closes=False)
    assert got == [[a], [b]]


def test_on_a_stream_that_was_not_quic_the_next_datagram_starts_a_new_connection():
    got, stream = _run([b"dns query", b"another"], close_after=1)
    assert got == [[b"dns query"], [b"another"]] and not stream.closed  # DNS: a query after mitmproxy's 20 s
