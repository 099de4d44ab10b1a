"""The HTTP layers on a client connection, found in mitmproxy's layer stack.

In regular (and upstream) proxy mode the proxy's own ``HttpLayer`` answers CONNECT,
and the tunnel's traffic runs in a second ``HttpLayer`` below that CONNECT stream
(the stream's ``child_layer``): a flow inside the tunnel (HTTPS through the proxy,
``curl -x``, k6 with ``HTTPS_PROXY``) belongs to that inner layer, not to the first
one found. A reverse or transparent proxy has one HTTP layer.
"""

from __future__ import annotations

from mitmproxy.proxy.layers.http import HTTPMode, HttpLayer

from faults.wire import builtin

MAX_LAYERS = 64  # a bound on the walk, far above any real stack


def below(layer):
    """The next layer down: ``child_layer`` of a layer, ``layer`` of a NextLayer; a
    mode layer that keeps no reference to its child (regular mode's ``HttpProxy``)
    hands every event to it: the owner of its ``_handle_event``."""
    child = getattr(layer, "child_layer", None) or getattr(layer, "layer", None)
    if child is None:
        owner = getattr(getattr(layer, "_handle_event", None), "__self__", None)
        child = owner if owner is not layer else None
    return child


def http_layers(client_conn) -> list[HttpLayer]:
    """Every ``HttpLayer`` on this client connection, outermost first ([] without a proxy)."""
    handler = builtin.connection_of(client_conn)
    out, todo, seen = [], [getattr(handler, "layer", None)], 0
    while todo and seen < MAX_LAYERS:
        layer = todo.pop(0)
        if layer is None:
            continue
        seen += 1
        if isinstance(layer, HttpLayer):
            out.append(layer)
            if layer.mode is not HTTPMode.transparent:  # CONNECT tunnels run below their stream
                todo.extend(getattr(s, "child_layer", None) for s in list(layer.streams.values()))
            continue
        todo.append(below(layer))
    return out
