"""mitmproxy's own addons that the wire reaches into (the proxy server, the
``next_layer`` decision, the TLS configuration), found by their class.

Our addons never look each other up (``FaultAddon`` hands each child what it
uses); these three are mitmproxy's, made by mitmproxy's master, so the wire
finds them in the master's addon chain by type: a rename on mitmproxy's side
fails at import here, where a lookup by name would silently find nothing.
Found once per master (the chain is walked only on a miss).

The proxy server's open connections (``connection_of``, ``open_connections``) are read
here only: ``Proxyserver.connections`` (a handler per client connection id) is not
addon API; ``tests/unit/wire/test_builtin.py`` fails loudly when mitmproxy changes it.
"""

from __future__ import annotations

from mitmproxy import ctx
from mitmproxy.addons.next_layer import NextLayer
from mitmproxy.addons.proxyserver import Proxyserver
from mitmproxy.addons.tlsconfig import TlsConfig

_found: dict[type, tuple[object, object]] = {}  # class -> (master, its instance in that master)


def _of(cls):
    """The master's top-level addon of class ``cls``, or None. Raises AttributeError
    without a master (as ``ctx.master`` does), which callers treat as "no proxy"."""
    master = ctx.master
    hit = _found.get(cls)
    if hit is not None and hit[0] is master:
        return hit[1]
    addon = next((a for a in master.addons.chain if isinstance(a, cls)), None)
    if addon is not None:
        _found[cls] = (master, addon)
    return addon


def proxyserver() -> Proxyserver | None:
    return _of(Proxyserver)


def proxyserver_or_none() -> Proxyserver | None:
    """The proxy server, or None when there is none to act on: no master (unit tests, a tool
    run without a proxy) or no ``Proxyserver`` in it."""
    try:
        return proxyserver()
    except AttributeError:  # no master
        return None


def connection_of(client_conn):
    """The proxy server's handler (``ConnectionHandler``) of this client connection, or None
    (closed, or no proxy server)."""
    server = proxyserver_or_none()
    return server.connections.get(client_conn.id) if server is not None else None


def open_connections() -> list:
    """The handler of every open client connection ([] without a proxy server)."""
    server = proxyserver_or_none()
    return list(server.connections.values()) if server is not None else []


def nextlayer() -> NextLayer | None:
    return _of(NextLayer)


def tlsconfig() -> TlsConfig | None:
    return _of(TlsConfig)
