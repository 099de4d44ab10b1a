"""Pass a connection through as bytes: what mitmproxy's ``ignore_hosts`` does,
decided by our own rule instead of a host regex (``faults.addons.passthrough``).

``target(nextlayer)`` reads, at a ``next_layer`` decision, the host names every
flow on that connection may show, when a raw relay would be faithful:

- reverse mode ``reverse:http://``, a plain-text client, ``keep_host_header``
  off: every flow's host is the upstream's (mitmproxy rewrites the Host header),
  and ``~d`` also matches the name the client sent (``faults.plan.client_host``):
  the upstream and the first request's Host header. A TLS client is not relayed: the upstream speaks plain
  HTTP (mitmproxy terminates TLS there, and may speak HTTP/2 to the client).
  Other reverse schemes neither (the upstream's TLS is not the client's);
- a tunnel (regular mode after ``CONNECT``, upstream, SOCKS5, transparent, local,
  WireGuard): the target address, the TLS SNI and the first request's Host
  header, before any TLS is intercepted. Later requests on the connection are
  not read (as with ``ignore_hosts``).

The first decision of regular and upstream mode (the proxy protocol itself,
absolute-form requests to any host) and anything not TCP are never relayed.
Private: the layer classes, the ClientHello parser and the NextLayer's buffered
events (guarded by tests/unit/wire/test_sockets.py).
"""

from __future__ import annotations

import re

from mitmproxy.net.tls import starts_like_tls_record
from mitmproxy.proxy import mode_specs
from mitmproxy.proxy.layers import TCPLayer, modes
from mitmproxy.proxy.layers.tls import parse_client_hello

MORE = "more"  # not enough bytes yet to know the names
MAX_PEEK = 16 * 1024  # past this much without a decision: intercept as usual
_HOST = re.compile(rb"\r\nhost:[ \t]*([^\r\n]*?)[ \t]*\r\n", re.IGNORECASE)


def target(nextlayer, keep_host_header: bool):
    """The host names of the connection (a tuple), ``MORE``, or None when it is not relayable."""
    context = nextlayer.context
    client, server = context.client, context.server
    layers = _base(nextlayer)
    if client.transport_protocol != "tcp" or not server.address or client.tls or not layers:
        return None
    data = nextlayer.data_client()
    if not data:
        return MORE
    mode = client.proxy_mode
    tls = starts_like_tls_record(data)
    if isinstance(mode, mode_specs.ReverseMode):
        if len(layers) != 1 or mode.scheme != "http" or tls or keep_host_header:
            return None
        # the upstream's name, and the first request's Host: ``~d`` also matches the
        # name the client used (faults.plan.client_host), read below
    elif isinstance(layers[-1], (modes.HttpProxy, modes.HttpUpstreamProxy)):
        return None  # the proxy protocol itself: requests to any host follow
    names = [server.address[0]]
    if tls:
        try:
            hello = parse_client_hello(data)
        except ValueError:
            return None
        if hello is None:
            return MORE if len(data) < MAX_PEEK else None
        if hello.sni:
            names.append(hello.sni)
    elif data[:1].isalpha():  # plain HTTP, perhaps: its Host header names a host too
        head_end = data.find(b"\r\n\r\n")
        m = _HOST.search(data, 0, head_end + 2 if head_end >= 0 else len(data))
        if m:
            names.append(_hostname(m.group(1).decode("latin-1")))
        elif head_end < 0:
            return MORE if len(data) < MAX_PEEK else None
    return tuple(n.lower() for n in names if n)


def _hostname(authority: str) -> str:
    """``api.test:8080`` -> ``api.test``; ``[::1]:80`` -> ``::1``."""
    if authority.startswith("["):
        return authority[1:].split("]", 1)[0]
    return authority.rsplit(":", 1)[0] if authority.count(":") == 1 else authority


def _base(nextlayer) -> list:
    """The context's layers above this decision. A layer appends itself to its
    context's ``layers`` when made, so those that mitmproxy's own ``next_layer``
    just made for this decision (``nextlayer.layer`` and below) are already there."""
    layers, chosen = nextlayer.context.layers, nextlayer.layer
    for i, layer in enumerate(layers):
        if layer is chosen:
            return layers[:i]
    return list(layers)


def _forget(nextlayer) -> None:
    """Undo the decision already made: its layers leave the context too, so the
    next decision sees the stack mitmproxy's own next_layer expects."""
    nextlayer.context.layers[:] = _base(nextlayer)
    nextlayer.layer = None


def relay(nextlayer, show: bool) -> None:
    """Relay the connection's bytes as they are, as mitmproxy does for an
    ignored host (``show``: as with ``show_ignored_hosts``, TCP flows appear)."""
    _forget(nextlayer)
    nextlayer.layer = TCPLayer(nextlayer.context, ignore=not show)


def defer(nextlayer) -> None:
    """Decide on the next bytes: mitmproxy asks again when more data arrives."""
    _forget(nextlayer)


def already_raw(nextlayer) -> bool:
    """A layer another addon (or mitmproxy's ignore_hosts) already made raw."""
    return isinstance(nextlayer.layer, TCPLayer)
