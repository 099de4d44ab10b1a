"""At proxy shutdown an HTTP/3 client is told: CONNECTION_CLOSE H3_NO_ERROR goes out before
mitmproxy's servers stop (``faults.wire.quic.close_for_shutdown``, from the injector's ``done``).
It once got nothing: aioquic's client waited for its idle timeout, with a request answered and
the connection idle. The wait below is bounded well under that idle timeout; what is asserted
is the event the client got, not how fast."""

from __future__ import annotations

import asyncio

from faults.tools.launch import ProxyProcess
from faults.tools.upstream import Upstream

IDLE_TIMEOUT = 60.0  # s: the client's; with no close from the proxy, nothing would end the connection before it
WAIT = 15.0  # s: the bound on waiting for the close after the proxy was told to stop


async def answered_then_closed(px: ProxyProcess) -> tuple[int, tuple]:
    from aioquic.asyncio import connect
    from aioquic.asyncio.protocol import QuicConnectionProtocol
    from aioquic.h3.connection import H3_ALPN, H3Connection
    from aioquic.h3.events import HeadersReceived
    from aioquic.quic.configuration import QuicConfiguration
    from aioquic.quic.events import ConnectionTerminated

    loop = asyncio.get_running_loop()
    status, terminated = loop.create_future(), loop.create_future()

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

    config = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, cafile=str(px.ca_file),
                               server_name="127.0.0.1", idle_timeout=IDLE_TIMEOUT)
    async with connect("127.0.0.1", px.port, configuration=config, create_protocol=Client) as client:
        sid = client._quic.get_next_available_stream_id()
        client.h3.send_headers(sid, [(b":method", b"GET"), (b":scheme", b"https"),
                                     (b":authority", f"127.0.0.1:{px.port}".encode()), (b":path", b"/ok")],
                               end_stream=True)
        client.transmit()
        got = await asyncio.wait_for(status, WAIT)
        await asyncio.to_thread(px.stop)  # the connection is idle and open while the proxy stops
        return got, await asyncio.wait_for(terminated, WAIT)


def test_an_http3_client_gets_connection_close_at_proxy_shutdown():
    with Upstream(tls=True) as up, ProxyProcess(mode=f"reverse:{up.url}", options={"ssl_insecure": True}) as px:
        status, (code, frame_type, reason) = asyncio.run(answered_then_closed(px))
    assert status == 200
    # an application close (0x1d, no frame type) H3_NO_ERROR, not aioquic's own "Idle timeout" (0x1, frame 0)
    assert (code, frame_type, reason) == (0x100, None, "proxy shutting down"), px.log()[-2000:]
