"""A small HTTP/1.1 server for the Toxiproxy API, on mitmproxy's event loop.

Not a mitmproxy listener: API requests are not traffic, so they never meet the
fault rules, the classifier or the report. Keep-alive, Content-Length and
chunked request bodies (Node's fetch, Python's requests), bounded sizes and a
read timeout; one request at a time per connection.
"""

from __future__ import annotations

import asyncio
import logging
from http import HTTPStatus

from faults import numbers

log = logging.getLogger(__name__)

MAX_HEAD = 64 << 10
MAX_BODY = 4 << 20
READ_TIMEOUT = 15.0  # Toxiproxy's read_timeout
IDLE_TIMEOUT = 60.0


class BadRequest(Exception):
    pass


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = bytearray()
        while True:
            line = await reader.readuntil(b"\r\n")
            digits = line.split(b";")[0].strip() or b"0"
            if len(digits) > 8:  # 4 MiB is 6 hex digits
                raise BadRequest("bad chunk size")
            size = int(digits, 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass
                return bytes(body)
            if len(body) + size > MAX_BODY:
                raise BadRequest("body too large")
            body += await reader.readexactly(size)
            await reader.readexactly(2)
    raw = headers.get("content-length", "0").strip() or "0"
    n = numbers.header_length(raw)
    if n is None:
        raise BadRequest(f"bad Content-Length (a whole number, {numbers.RULE})")
    if n > MAX_BODY:
        raise BadRequest("body too large")
    return await reader.readexactly(n)


async def serve_connection(handle, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_TIMEOUT)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError):
                return
            try:
                lines = head.decode("latin-1").split("\r\n")
                method, target, version = lines[0].split(" ")
                headers = {}
                for line in lines[1:]:
                    if line:
                        k, _, v = line.partition(":")
                        headers[k.strip().lower()] = v.strip()
                body = await asyncio.wait_for(_read_body(reader, headers), READ_TIMEOUT)
            except (ValueError, BadRequest, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as e:
                writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
                             b"Connection: close\r\n\r\n400 Bad Request: " + str(e).encode()[:200])
                return
            except TimeoutError:
                return
            try:
                status, hdrs, data = await handle(method, target, headers, body)
            except Exception as e:  # a bug: a 500, never a traceback mid-traffic
                log.error(f"toxiproxy api: {method} {target} failed: {e!r}")
                status, hdrs, data = 500, {"Content-Type": "text/plain; charset=utf-8"}, f"{e!r}\n".encode()
            close = headers.get("connection", "").lower() == "close" or version == "HTTP/1.0"
            out = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"]
            out += [f"{k}: {v}" for k, v in hdrs.items()]
            if status != 204:
                out.append(f"Content-Length: {len(data)}")
            if close:
                out.append("Connection: close")
            writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + (data if status != 204 else b""))
            await writer.drain()
            if close:
                return
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def start(handle, host: str, port: int) -> asyncio.Server:
    """Serve ``handle(method, target, headers, body) -> (status, headers, body)``."""
    conns: set[asyncio.Task] = set()

    async def on_client(reader, writer):
        task = asyncio.current_task()
        conns.add(task)
        try:
            await serve_connection(handle, reader, writer)
        finally:
            conns.discard(task)

    server = await asyncio.start_server(on_client, host, port, limit=MAX_HEAD)
    server.api_connections = conns  # closed with the server (see close())
    return server


async def close(server: asyncio.Server) -> None:
    server.close()
    for task in list(getattr(server, "api_connections", ())):
        task.cancel()
    try:
        await asyncio.wait_for(server.wait_closed(), 2)
    except (TimeoutError, asyncio.CancelledError):
        pass
