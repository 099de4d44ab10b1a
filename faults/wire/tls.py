"""TLS bytes on the client socket, before any TLS state exists or as the
TLS engine's own unsent output: alert records, plain HTTP in answer to a
ClientHello, stalls, and the alert OpenSSL leaves in its memory BIO.
The socket itself is only touched through ``faults.wire.sockets``."""

from __future__ import annotations

import asyncio
import time

from mitmproxy import connection
from OpenSSL import SSL

from faults.wire import sockets


def alert_record(code: int, version: bytes = b"\x03\x03") -> bytes:
    """A plaintext TLS record holding one fatal alert (level 2)."""
    return b"\x15" + version + b"\x00\x02" + bytes([2, code])


PLAINTEXT_RESPONSE = (
    b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\ncontent-length: 39\r\n"
    b"connection: close\r\n\r\nThis server does not speak TLS (fault)\n"
)


def send_raw_then_fin(client: connection.Client, data: bytes) -> bool:
    """Write ``data`` to the raw client socket, then FIN (after the bytes)."""
    return sockets.write_raw(client, data) and sockets.close(client)


def send_alert(client: connection.Client, code: int) -> bool:
    return send_raw_then_fin(client, alert_record(code))


def send_plaintext(client: connection.Client) -> bool:
    return send_raw_then_fin(client, PLAINTEXT_RESPONSE)


async def stall(client: connection.Client, limit: float, stopping: asyncio.Event) -> bool:
    """Answer nothing until the client closes (True) or ``limit``/shutdown (False)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and not stopping.is_set():
        if sockets.client_eof(client) or sockets.client_writer(client) is None:
            return True
        await asyncio.sleep(0.05)
    return False


async def wait_client_closed(client: connection.Client, limit: float, stopping: asyncio.Event) -> bool:
    """Keep the connection open (mitmproxy keeps reading it) until the client
    closes its side, ``limit`` seconds pass or the proxy stops."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and not stopping.is_set():
        if sockets.client_eof(client):
            return True
        await asyncio.sleep(0.02)
    return False


def flush_pending(client: connection.Client, ssl_conn: SSL.Connection) -> tuple[bool, int | None]:
    """Send the client what OpenSSL produced for a failed handshake (its alert),
    which mitmproxy leaves in the memory BIO. Returns the alert code if the
    bytes end in a plaintext alert record, -1 for an encrypted one (TLS 1.3),
    as (flushed anything, alert)."""
    out = b""
    while True:
        try:
            chunk = ssl_conn.bio_read(65535)
        except SSL.Error:
            break
        if not chunk:
            break
        out += chunk
    if not out or not sockets.write_raw(client, out):
        return False, None
    return True, last_alert(out)


def last_alert(data: bytes) -> int | None:
    """The alert code of the last plaintext alert record in ``data``, or None.
    TLS 1.3 alerts after the ServerHello are encrypted (type 23): then -1."""
    pos, last = 0, None
    while pos + 5 <= len(data):
        typ, length = data[pos], int.from_bytes(data[pos + 3:pos + 5], "big")
        body = data[pos + 5:pos + 5 + length]
        if typ == 0x15 and len(body) == 2:
            last = body[1]
        elif typ == 0x17:
            last = -1  # encrypted: the caller knows which alert OpenSSL sends
        pos += 5 + length
    return last
