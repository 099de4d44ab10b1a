"""A script reload hands an addon's live state to the addon that replaces it.

mitmproxy reloads a ``-s`` script whose file changed: it removes the old addon (its ``done``)
and registers a new one from the re-run script (``load``, ``configure``, ``running``), all in
one step of the event loop, while the proxy and its options go on. The ``faults`` package is
not re-imported (only the script is), so this module's table outlives the reload: a new
child addon finds the one of its class that ran before it under the same master and takes
over what must not end with it (the Toxiproxy API server and proxies, the workers' sockets,
the runtime rules, the counts of the status line, the summary and the HAR).

``take_over`` at ``load``: the predecessor, if any. The predecessor's ``done`` closes nothing
unless the proxy exits (``faults.wire.servers.exiting``): that ``done`` runs before the
successor's ``load``, and when the re-run script fails (a syntax error mid-edit) there is no
successor until the next good edit, which then takes everything over as it was.
"""

from __future__ import annotations

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
