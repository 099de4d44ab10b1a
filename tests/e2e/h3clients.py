"""Two real HTTP/3 clients for the end-to-end tests, each reporting what its user sees.

- ``curl_many``: libcurl with ngtcp2/nghttp3 (the ``curl_cffi`` package), HTTP/3 only;
  one request first, so that the others share its QUIC connection (libcurl multiplexes
  onto a connection it has; requests started together would each open their own).
  Each result: ``("ok", status, body)`` or ``("error", curl exit code, curl's text)``.
- ``aioquic_many``: aioquic's own client (aioquic ships with mitmproxy), its HTTP/3
  layer driven as its examples' ``http3_client`` does, all requests on one connection.
  Each result: ``("ok", status, body)``, ``("error", "StreamReset", code)``,
  ``("error", "ConnectionTerminated", (code, frame_type, reason))``,
  ``("error", "short_body", (got, content-length))`` or ``("error", "timeout", ...)``.
"""

from __future__ import annotations

import asyncio
import re

CURL_EXIT = re.compile(r"curl: \((\d+)\) (.*?)(?:\. See https://curl\.se.*)?$", re.S)


async def _curl_many(port: int, ca: str, reqs: list[tuple[str, dict]], timeout: float) -> list[tuple]:
    from curl_cffi import CurlHttpVersion
    from curl_cffi.requests import AsyncSession

    async with AsyncSession(verify=ca, http_version=CurlHttpVersion.V3ONLY, timeout=timeout) as s:
        async def one(path, headers, body=None):
            try:
                r = await s.request("POST" if body else "GET", f"https://127.0.0.1:{port}{path}", headers=headers,
                                    data=body)
                return "ok", r.status_code, r.content
            except Exception as e:  # curl_cffi raises its own classes; the exit code is in the text
                m = CURL_EXIT.search(str(e))
                return ("error", int(m.group(1)), m.group(2)) if m else ("error", None, str(e))

        first = [await one(*reqs[0])] if reqs else []
        return first + list(await asyncio.gather(*(one(*r) for r in reqs[1:])))


def curl_many(port: int, ca, reqs: list[tuple[str, dict]], timeout: float = 5) -> list[tuple]:
    return asyncio.run(_curl_many(port, str(ca), reqs, timeout))


async def _aioquic_many(port: int, ca: str, reqs: list[tuple[str, dict]], timeout: float,
                        local_port: int = 0) -> list[tuple]:
    from aioquic.asyncio import connect
    from aioquic.asyncio.protocol import QuicConnectionProtocol
    from aioquic.h3.connection import H3_ALPN, H3Connection
    from aioquic.h3.events import DataReceived, HeadersReceived
    from aioquic.quic.configuration import QuicConfiguration
    from aioquic.quic.events import ConnectionTerminated, StopSendingReceived, StreamReset

    class Client(QuicConnectionProtocol):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self.h3 = H3Connection(self._quic)
            self.waiters: dict[int, asyncio.Future] = {}
            self.got: dict[int, dict] = {}
            self.terminated = None

        def quic_event_received(self, event):
            if isinstance(event, ConnectionTerminated):
                self.terminated = (event.error_code, event.frame_type, event.reason_phrase)
                for sid, fut in self.waiters.items():
                    if not fut.done():
                        fut.set_result(("error", "ConnectionTerminated", self.terminated))
                return
            if isinstance(event, (StreamReset, StopSendingReceived)) and event.stream_id in self.waiters:
                fut = self.waiters[event.stream_id]
                if not fut.done():
                    fut.set_result(("error", type(event).__name__, event.error_code))
                return
            for h3_event in self.h3.handle_event(event):
                sid = getattr(h3_event, "stream_id", None)
                got = self.got.setdefault(sid, {"status": None, "body": b"", "length": None})
                if isinstance(h3_event, HeadersReceived):
                    headers = dict(h3_event.headers)
                    if got["status"] is None:
                        got["status"] = int(headers.get(b":status", b"0"))
                        cl = headers.get(b"content-length")
                        got["length"] = int(cl) if cl and cl.isdigit() else None
                elif isinstance(h3_event, DataReceived):
                    got["body"] += h3_event.data
                if getattr(h3_event, "stream_ended", False) and sid in self.waiters:
                    fut = self.waiters[sid]
                    if not fut.done():
                        if got["length"] is not None and len(got["body"]) != got["length"]:
                            fut.set_result(("error", "short_body", (len(got["body"]), got["length"])))
                        else:
                            fut.set_result(("ok", got["status"], got["body"]))

        async def get(self, path: str, headers: dict, body: bytes | None = None) -> tuple:
            sid = self._quic.get_next_available_stream_id()
            fut = asyncio.get_running_loop().create_future()
            self.waiters[sid] = fut
            extra = [(b"content-length", str(len(body)).encode())] if body else []
            self.h3.send_headers(sid, [
                (b":method", b"POST" if body else b"GET"), (b":scheme", b"https"),
                (b":authority", f"127.0.0.1:{port}".encode()), (b":path", path.encode()), *extra,
                *[(k.lower().encode(), v.encode()) for k, v in headers.items()],
            ], end_stream=not body)
            if body:
                self.h3.send_data(sid, body, end_stream=True)
            self.transmit()
            try:
                return await asyncio.wait_for(fut, timeout)
            except asyncio.TimeoutError:
                return "error", "timeout", self.terminated

    config = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, cafile=ca, server_name="127.0.0.1",
                               idle_timeout=timeout)
    async with connect("127.0.0.1", port, configuration=config, create_protocol=Client,
                       wait_connected=True, local_port=local_port) as client:
        first = [await client.get(*reqs[0])] if reqs else []
        return first + list(await asyncio.gather(*(client.get(*r) for r in reqs[1:])))


def aioquic_many(port: int, ca, reqs: list[tuple[str, dict]], timeout: float = 5, local_port: int = 0) -> list[tuple]:
    """``local_port``: the client's UDP port (0: the kernel picks one)."""
    return asyncio.run(asyncio.wait_for(_aioquic_many(port, str(ca), reqs, timeout, local_port), timeout + 5))
