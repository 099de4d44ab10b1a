"""A small, fast HTTP/1.1 upstream for the demo, the tests and the benchmarks.

One asyncio protocol, keep-alive, no threads per request. Any path answers;
query parameters shape the answer:
  ``size=N``   body of N bytes (default 64)      ``status=N`` that status
  ``ms=N``     wait N ms before answering          ``gzip=1``   gzip-encode the body
  ``chunked=1`` chunked transfer encoding       ``trickle=N`` the body in 10 parts over N ms
  ``sse=N``    a ``text/event-stream`` of N events (``gap=MS`` apart, default 50), chunked
A WebSocket upgrade (``Upgrade: websocket``) is accepted: the server sends ``msgs=N``
text messages ``m1``..``mN`` (``gap=MS`` apart), then echoes what the client sends
and answers its close; ``close=CODE`` closes with CODE after the N messages.
Every response carries ``x-upstream-count`` (requests seen so far), so a test
can tell whether a request reached the upstream.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import threading
from urllib.parse import parse_qs, urlsplit

REASONS = {200: "OK", 204: "No Content", 404: "Not Found", 500: "Internal Server Error", 503: "Service Unavailable"}


class _Proto(asyncio.Protocol):
    def __init__(self, server: "Upstream"):
        self.server = server
        self.buf = bytearray()
        self.transport = None
        self.busy = False

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.buf += data
        if not self.busy:
            self._next()

    def _next(self):
        while not self.busy:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end]).decode("latin-1")
            lines = head.split("\r\n")
            headers = {}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
            length = int(headers.get("content-length", "0") or 0)
            if len(self.buf) < end + 4 + length:
                return
            del self.buf[: end + 4 + length]
            try:
                method, target, _ = lines[0].split(" ", 2)
            except ValueError:
                self.transport.close()
                return
            self.server.count += 1
            q = {k: v[-1] for k, v in parse_qs(urlsplit(target).query).items()}
            if headers.get("upgrade", "").lower() == "websocket":
                self._websocket(headers, q)
                return
            if q.get("sse"):
                self._sse(q, headers)
                return
            delay = int(q.get("ms", "0") or 0)
            if delay:
                self.busy = True
                asyncio.get_running_loop().call_later(delay / 1000, self._answer, method, q, headers)
                return
            self._answer(method, q, headers)

    def _answer(self, method, q, headers):
        self.busy = False
        if self.transport.is_closing():
            return
        status = int(q.get("status", "200"))
        body = b"x" * int(q.get("size", "64"))
        extra = f"x-upstream-count: {self.server.count}\r\n"
        if q.get("gzip"):
            body = gzip.compress(body)
            extra += "content-encoding: gzip\r\n"
        if status in (204, 304) or 100 <= status < 200:
            body = b""
        if method == "HEAD":
            body_out = b""
        else:
            body_out = body
        if q.get("chunked"):
            framing = "transfer-encoding: chunked\r\n"
            body_out = (b"%x\r\n%s\r\n" % (len(body_out), body_out) if body_out else b"") + b"0\r\n\r\n"
        else:
            framing = f"content-length: {len(body)}\r\n"
        close = headers.get("connection", "").lower() == "close"
        reason = REASONS.get(status, "Status")
        head = (
            f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain\r\n{framing}{extra}"
            + ("connection: close\r\n" if close else "")
            + "\r\n"
        )
        trickle = int(q.get("trickle", "0") or 0)
        if trickle and body_out and not q.get("chunked"):
            # the head at once, the body in 10 parts over ``trickle`` ms: a streaming proxy
            # forwards the head, and its client holds a half-answered response meanwhile
            self.busy = True
            self.transport.write(head.encode())
            step = max(1, len(body_out) // 10)
            parts = [body_out[i:i + step] for i in range(0, len(body_out), step)]
            self._trickle(parts, trickle / 1000 / len(parts), close)
            return
        self.transport.write(head.encode() + body_out)
        if close:
            self.transport.close()
            return
        self._next()

    # -- streams -------------------------------------------------------------
    def _sse(self, q, headers):
        """N events, each in its own chunk, ``gap`` ms apart; then the end of the body."""
        self.busy = True
        head = ("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
                f"transfer-encoding: chunked\r\nx-upstream-count: {self.server.count}\r\n\r\n")
        self.transport.write(head.encode())
        events = [f"id: {i}\ndata: event {i}\n\n".encode() for i in range(1, int(q["sse"]) + 1)]
        self._events(events, int(q.get("gap", "50")) / 1000)

    def _events(self, events: list[bytes], gap: float):
        if self.transport.is_closing():
            return
        if not events:
            self.transport.write(b"0\r\n\r\n")
            self.busy = False
            self._next()
            return
        e = events.pop(0)
        self.transport.write(b"%x\r\n%s\r\n" % (len(e), e))
        asyncio.get_running_loop().call_later(gap, self._events, events, gap)

    def _websocket(self, headers, q):
        import wsproto
        from wsproto import events as wse

        self.busy = True  # this connection is a WebSocket from now on
        accept = base64.b64encode(hashlib.sha1(
            (headers.get("sec-websocket-key", "") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
        self.transport.write(b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
                             b"sec-websocket-accept: " + accept + b"\r\n\r\n")
        ws = wsproto.Connection(wsproto.ConnectionType.SERVER)
        out = [f"m{i}" for i in range(1, int(q.get("msgs", "0")) + 1)]
        gap = int(q.get("gap", "50")) / 1000
        close = int(q.get("close", "0"))
        loop = asyncio.get_running_loop()

        def send(event):
            if not self.transport.is_closing() and ws.state == wsproto.ConnectionState.OPEN:
                self.transport.write(ws.send(event))

        def tick():
            if out:
                send(wse.TextMessage(out.pop(0)))
                loop.call_later(gap, tick)
            elif close:
                send(wse.CloseConnection(close, "upstream done"))

        def received(data: bytes):
            ws.receive_data(data)
            for ev in ws.events():
                if isinstance(ev, wse.Message):
                    send(type(ev)(ev.data))
                elif isinstance(ev, wse.Ping):
                    send(ev.response())
                elif isinstance(ev, wse.CloseConnection):
                    if ws.state == wsproto.ConnectionState.REMOTE_CLOSING:
                        self.transport.write(ws.send(ev.response()))
                    self.transport.close()

        self.data_received = received  # the HTTP parser is done with this connection
        if self.buf:
            received(bytes(self.buf))
            self.buf.clear()
        loop.call_later(gap, tick)

    def _trickle(self, parts: list[bytes], gap: float, close: bool):
        if self.transport.is_closing():
            return
        self.transport.write(parts.pop(0))
        if parts:
            asyncio.get_running_loop().call_later(gap, self._trickle, parts, gap, close)
            return
        self.busy = False
        if close:
            self.transport.close()
        else:
            self._next()


def _server_tls_context():
    """A throwaway CA and a certificate for 127.0.0.1/localhost/demo.test (trustme)."""
    import ssl

    import trustme

    ca = trustme.CA()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost", "demo.test").configure_cert(ctx)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


class Upstream:
    """Run the upstream on 127.0.0.1 (port 0 = a free one) in a background thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, tls: bool = False):
        self.host, self.port = host, port
        self.tls = tls
        self.ssl_context = _server_tls_context() if tls else None
        self.count = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    async def serve(self):
        self._server = await asyncio.get_running_loop().create_server(lambda: _Proto(self), self.host, self.port, ssl=self.ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]
        return self._server

    def start(self) -> "Upstream":
        ready = threading.Event()

        def run():
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self.serve())
            ready.set()
            try:
                self._loop.run_forever()
            finally:
                # closed by its own thread: left to the garbage collector at interpreter exit,
                # its __del__ may meet a self-pipe already closed and print a traceback
                self._loop.close()

        self._thread = threading.Thread(target=run, name="upstream", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("upstream did not start")
        return self

    def stop(self):
        if self._loop:
            self._loop.call_soon_threadsafe(self._server.close)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


if __name__ == "__main__":
    import sys

    async def main():
        up = Upstream(port=int(sys.argv[1]) if len(sys.argv) > 1 else 0)
        server = await up.serve()
        print(f"upstream on {up.url}", flush=True)
        await server.serve_forever()

    asyncio.run(main())
