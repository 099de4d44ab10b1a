"""Who closes an HTTP/3 client's QUIC connection, as the client and the records see it.

The proxy's own stack (not a fault) closes it: the HTTP/3 layer under mitmproxy (aioquic's
H3Connection) on a request without ``:method`` (H3_MESSAGE_ERROR "Pseudo-headers [b':method']
are missing"); the stream still open ends with it and its record says so (``h3.proxy_close``,
with the code and reason aioquic's client got; it once said "the client closed the QUIC
connection itself").

At proxy shutdown an HTTP/3 client is told: CONNECTION_CLOSE H3_NO_ERROR goes out before
mitmproxy's servers stop (``faults.wire.quic.close_for_shutdown``, from the injector's ``done``).
It once got nothing: aioquic's client waited for its idle timeout, with a request answered and
the connection idle. The wait below is bounded well under that idle timeout; what is asserted
is the event the client got, not how fast."""

from __future__ import annotations

import asyncio

from faults.tools.launch import ProxyProcess
from faults.tools.upstream import Upstream
from tests.e2e.waiting import by_case, wait_for_records

IDLE_TIMEOUT = 60.0  # s: the client's; with no close from the proxy, nothing would end the connection before it
WAIT = 15.0  # s: the bound on waiting for the close after the proxy was told to stop


def _client_class(status: asyncio.Future, terminated: asyncio.Future):
    """aioquic's client, as its examples drive it: the first response status, the close."""
    from aioquic.asyncio.protocol import QuicConnectionProtocol
    from aioquic.h3.connection import H3Connection
    from aioquic.h3.events import HeadersReceived
    from aioquic.quic.events import ConnectionTerminated

    class Client(QuicConnectionProtocol):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self.h3 = H3Connection(self._quic)

        def quic_event_received(self, event):
            if isinstance(event, ConnectionTerminated) and not terminated.done():
                terminated.set_result((event.error_code, event.frame_type, event.reason_phrase))
            for h3_event in self.h3.handle_event(event):
                if isinstance(h3_event, HeadersReceived) and not status.done():
                    status.set_result(int(dict(h3_event.headers)[b":status"]))

        def request(self, port: int, path: str, pseudo: bool = True) -> None:
            sid = self._quic.get_next_available_stream_id()
            head = [(b":method", b"GET"), (b":scheme", b"https"), (b":authority", f"127.0.0.1:{port}".encode())]
            self.h3.send_headers(sid, head + [(b":path", path.encode())] if pseudo else head[1:], end_stream=True)
            self.transmit()

    return Client


async def _connected(px: ProxyProcess, run):
    from aioquic.asyncio import connect
    from aioquic.h3.connection import H3_ALPN
    from aioquic.quic.configuration import QuicConfiguration

    loop = asyncio.get_running_loop()
    status, terminated = loop.create_future(), loop.create_future()
    config = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, cafile=str(px.ca_file),
                               server_name="127.0.0.1", idle_timeout=IDLE_TIMEOUT)
    async with connect("127.0.0.1", px.port, configuration=config,
                       create_protocol=_client_class(status, terminated)) as client:
        return await run(client, status, terminated)


async def answered_then_closed(px: ProxyProcess) -> tuple[int, tuple]:
    async def run(client, status, terminated):
        client.request(px.port, "/ok")
        got = await asyncio.wait_for(status, WAIT)
        await asyncio.to_thread(px.stop)  # the connection is idle and open while the proxy stops
        return got, await asyncio.wait_for(terminated, WAIT)
    return await _connected(px, run)


async def closed_by_the_proxy_s_stack(px: ProxyProcess) -> tuple:
    async def run(client, status, terminated):
        client.request(px.port, "/slow?ms=5000&case=open")  # in flight (a slow upstream) when the close comes
        client.request(px.port, "/bad", pseudo=False)  # no :method: the proxy's HTTP/3 layer closes the connection
        return await asyncio.wait_for(terminated, WAIT)
    return await _connected(px, run)


def test_a_close_of_the_proxy_s_own_stack_is_recorded_as_the_proxy_s(tmp_path):
    rep = tmp_path / "report.jsonl"
    with Upstream(tls=True) as up, ProxyProcess(mode=f"reverse:{up.url}",
                                                options={"ssl_insecure": True, "fault_report": str(rep)}) as px:
        code, frame_type, reason = asyncio.run(closed_by_the_proxy_s_stack(px))
        recs = by_case(wait_for_records(rep, lambda rs: "open" in by_case(rs), "the open stream's record"))
    rec = recs["open"][0]
    assert rec["outcome"]["event"] == "h3.proxy_close", rec["outcome"]
    assert rec["facts"]["h3_error"]["value"] == code and reason and reason in rec["outcome"]["summary"], (code, reason, rec)
    said = rec["clients"]["aioquic"]
    assert (said["error"], said["error_code"], said["frame_type"]) == ("ConnectionTerminated", code, frame_type), said


def test_an_http3_client_gets_connection_close_at_proxy_shutdown():
    with Upstream(tls=True) as up, ProxyProcess(mode=f"reverse:{up.url}", options={"ssl_insecure": True}) as px:
        status, (code, frame_type, reason) = asyncio.run(answered_then_closed(px))
    assert status == 200
    # an application close (0x1d, no frame type) H3_NO_ERROR, not aioquic's own "Idle timeout" (0x1, frame 0)
    assert (code, frame_type, reason) == (0x100, None, "proxy shutting down"), px.log()[-2000:]
