"""Waiting, bounded, for what a test awaits (a record, a log line, a state change) instead of
a fixed sleep: return as soon as it holds; past the timeout fail naming what was awaited and
what there was instead. ``wait_until`` for plain code, ``wait_until_async`` inside an event
loop (where a blocking sleep would stop what is awaited). End-to-end specifics (report records,
the proxy's connections): tests/e2e/waiting.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

POLL_S = 0.05


def wait_until(predicate: Callable, timeout: float, what: str, *, seen: Callable | None = None,
               poll: float = POLL_S, fail: bool = True):
    """Call ``predicate`` until it returns something truthy, and return that. After
    ``timeout`` seconds fail with an AssertionError naming ``what`` and, with ``seen``,
    what there was instead (``seen()``, called once); with ``fail=False`` return the
    last value instead (the caller's own assertion says what is wrong)."""
    deadline = time.monotonic() + timeout
    while True:
        got = predicate()
        if got or time.monotonic() >= deadline:
            return got if got else _timed_out(got, timeout, what, seen, fail)
        time.sleep(poll)


async def wait_until_async(predicate: Callable, timeout: float, what: str, *, seen: Callable | None = None,
                           poll: float = POLL_S, fail: bool = True):
    """``wait_until`` for a coroutine: the loop runs on between the calls of ``predicate``."""
    deadline = time.monotonic() + timeout
    while True:
        got = predicate()
        if got or time.monotonic() >= deadline:
            return got if got else _timed_out(got, timeout, what, seen, fail)
        await asyncio.sleep(poll)


def _timed_out(got, timeout: float, what: str, seen: Callable | None, fail: bool):
    if not fail:
        return got
    detail = f"; seen instead: {seen()}" if seen is not None else ""
    raise AssertionError(f"waited {timeout:g} s for {what}{detail}")
