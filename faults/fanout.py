"""Runtime control changes fanned out to sibling workers (``faults proxy --workers N``).

Each worker serves a private Unix socket, ``ctl-<id>.sock`` in the supervisor's
worker directory (mode 0700, so only this user reaches it). The worker that
received a change (a control request, a ``faults.*`` command) applies it, then
sends it to every sibling socket as one JSON line and waits for each sibling's
one-line answer: the change is in force on all workers when ``broadcast``
returns, so the control request answers 200 only then. Siblings apply a
message locally and never forward it again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)
TIMEOUT = 30.0  # a sibling parsing a 10,000-rule plan under load takes seconds
MAX_MESSAGE = 8 * 1024 * 1024  # a 4 MiB plan as JSON text, with room


def socket_path(directory: str | Path, worker_id: str) -> Path:
    return Path(directory) / f"ctl-{worker_id}.sock"


def siblings(directory: str | Path, worker_id: str) -> list[Path]:
    own = socket_path(directory, worker_id)
    return sorted(p for p in Path(directory).glob("ctl-*.sock") if p != own)


async def serve(directory: str | Path, worker_id: str, apply: Callable[[dict], None]) -> asyncio.AbstractServer:
    """Apply each message a sibling sends; answer ``{"ok": true}`` or the error."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await reader.readline()
            try:
                apply(json.loads(line))
                answer = {"ok": True}
            except Exception as e:  # the origin validated it already: this is a bug, said to the origin
                log.error(f"fault control change from a sibling worker failed: {e!r}")
                answer = {"ok": False, "error": repr(e)}
            writer.write(json.dumps(answer).encode() + b"\n")
            await writer.drain()
        finally:
            writer.close()

    path = socket_path(directory, worker_id)
    path.unlink(missing_ok=True)
    return await asyncio.start_unix_server(handle, path=str(path), limit=MAX_MESSAGE)


async def _send(path: Path, data: bytes, timeout: float) -> str | None:
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_unix_connection(str(path), limit=MAX_MESSAGE)
            try:
                writer.write(data)
                await writer.drain()
                answer = json.loads(await reader.readline() or b"{}")
            finally:
                writer.close()
    except (OSError, ValueError, TimeoutError) as e:
        return f"{path.name}: {e!r}"
    return None if answer.get("ok") else f"{path.name}: {answer.get('error', 'no answer')}"


async def broadcast(directory: str | Path, worker_id: str, message: dict, timeout: float = TIMEOUT) -> list[str]:
    """Send ``message`` to every sibling at once; the errors (empty: all applied it)."""
    data = json.dumps(message).encode() + b"\n"
    results = await asyncio.gather(*(_send(p, data, timeout) for p in siblings(directory, worker_id)))
    return [r for r in results if r]
