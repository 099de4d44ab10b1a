"""A script reload hands an addon's live state to the addon that replaces it.

mitmproxy reloads a ``-s`` script whose file changed: it removes the old addon (its ``done``)
and registers a new one from the re-run script (``load``, ``configure``, ``running``), all in
one step of the event loop, while the proxy and its options go on. The ``faults`` package is
not re-imported (only the script is), so this module's table outlives the reload: a new
child addon finds the one of its class that ran before it under the same master and takes
over what must not end with it (the Toxiproxy API server and proxies, the workers' sockets,
the runtime rules, the counts of the status line, the summary and the HAR).

``take_over`` at ``load``: the predecessor, if any. ``close_unless_succeeded`` at a
``done`` that is no exit (``faults.wire.servers.exiting``): that ``done`` may run before the
successor's ``load`` (mitmproxy runs tasks eagerly), so whether one came is asked in the
loop's next step; without one (the script dropped from ``scripts``) the state is closed.
"""

from __future__ import annotations

import asyncio
import inspect
import weakref

from mitmproxy import ctx

_current: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # master -> {class: its addon now}


def take_over(addon):
    """At ``addon``'s ``load``: the addon of its class that ran before it under this master
    (a script reload replaces it now), or None at the first start."""
    now = _current.setdefault(ctx.master, {})
    old = now.get(type(addon))
    now[type(addon)] = addon
    return old if old is not addon else None


def close_unless_succeeded(addon, close) -> None:
    """At a ``done`` that is no exit: ``close()`` (a function or a coroutine function) in the
    loop's next step, unless a reloaded addon took ``addon``'s state over meanwhile."""
    master = ctx.master

    def check():
        if _current.get(master, {}).get(type(addon), addon) is addon:
            res = close()
            if inspect.isawaitable(res):
                task = asyncio.ensure_future(res)
                _closing.add(task)  # the loop keeps only a weak reference
                task.add_done_callback(_closing.discard)
    try:
        asyncio.get_running_loop().call_soon(check)
    except RuntimeError:  # no event loop (a test calling done itself): no reload can follow
        check()


_closing: set = set()
