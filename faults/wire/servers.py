"""At shutdown: stop mitmproxy's proxy servers while the event loop still runs, and let
mitmproxy_rs's runtime threads leave Python before the interpreter finalizes.

Why (measured, see docs/http3.md "Shutdown"): mitmproxy never stops its servers at exit.
Its UDP servers (QUIC, DNS) and UDP upstream connections live in mitmproxy_rs (Rust,
tokio). Each of its awaitables (``Stream.read``, ``wait_closed``, ...) is completed by a
Rust thread that takes the GIL to call ``loop.call_soon_threadsafe`` (pyo3-async-runtimes).
A thread that waits for the GIL when Python starts finalizing is ended by CPython 3.12 with
``pthread_exit``, whose forced unwind through Rust frames dies of SIGSEGV: mitmdump exited
-11 after HTTP/3 traffic. So, in the ``done`` hook: every Rust server is closed and awaited
(its tasks, logging included, run while Python is alive), then the GIL is left free until
no foreign thread runs Python code.

The servers are reached through mitmproxy's ``Proxyserver.servers`` (public) and each
instance's ``_servers`` list (private: ``tests/unit/wire/test_servers.py`` guards it).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time

log = logging.getLogger(__name__)

GRACE = 0.05  # s with the GIL free after the last Rust awaitable, for a completion with no Python frame


def _rust_servers(proxyserver) -> list:
    """mitmproxy_rs servers (UDP, WireGuard, ...) of every running instance: those whose
    ``close()`` only asks its runtime to stop; ``wait_closed()`` says it has."""
    return [s for inst in proxyserver.servers for s in getattr(inst, "_servers", ())
            if not isinstance(s, asyncio.AbstractServer) and hasattr(s, "wait_closed")]


def foreign_threads_in_python() -> set[int]:
    """Threads running Python code that Python did not start (mitmproxy_rs's runtime threads
    inside a callback)."""
    own = {t.ident for t in threading.enumerate() if not isinstance(t, threading._DummyThread)}
    return set(sys._current_frames()) - own


def exiting() -> bool:
    """mitmproxy is exiting (its master was told to: ``done`` is the proxy's end), rather than
    removing an addon (a script reload calls ``done`` too, with the proxy going on)."""
    from mitmproxy import ctx

    return ctx.master.should_exit.is_set()


async def stop_servers(timeout: float = 2.0) -> None:
    """Stop every proxy server (mitmproxy logs "... stopped") and wait until the Rust ones
    are done with Python (``rust_servers_closed``)."""
    from faults.wire import builtin  # here: the wait below is used (and tested) without mitmproxy's addons

    proxyserver = builtin.proxyserver_or_none()
    if proxyserver is None:
        return
    rust = _rust_servers(proxyserver)
    await proxyserver.servers.update([])
    await rust_servers_closed(rust, timeout)


async def rust_servers_closed(rust: list, timeout: float = 2.0) -> None:
    """Wait (bounded by ``timeout``) for each closed mitmproxy_rs server to have shut down,
    then with the GIL free until no Rust thread is inside Python: the thread that completed
    the last awaitable still holds Python objects (or waits for the GIL to drop them)."""
    if not rust:
        return
    deadline = time.monotonic() + timeout
    for s in rust:
        try:
            await asyncio.wait_for(s.wait_closed(), max(0.01, deadline - time.monotonic()))
        except (asyncio.TimeoutError, OSError) as e:
            log.warning(f"{s!r} did not shut down in {timeout} s ({e!r}): exit may crash")
    await asyncio.sleep(GRACE)
    while foreign_threads_in_python() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
