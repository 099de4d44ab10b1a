"""ALPN choice on the client side of mitmproxy's TLS: pick ``h2`` when the client
offers it, whatever its order (option ``fault_prefer_h2``).

mitmproxy's ``TlsConfig`` builds the client connection in its ``tls_start_client``
hook and installs ``alpn_select_callback``, which honours the client's order unless
the connection's app data names a ``client_alpn``. The script's addons run before
``TlsConfig`` (mitmproxy's ``ScriptLoader`` sits ahead of it), so the hook cannot
adjust TlsConfig's connection afterwards; instead ``start_client`` lets TlsConfig
build it now (it then skips its own hook: ``ssl_conn`` is set) and ``choose_h2``
names ``h2`` in that app data. Both rely on mitmproxy internals, guarded by
``tests/unit/wire/test_sockets.py``.
"""

from __future__ import annotations

from mitmproxy.tls import TlsData

from faults.wire import builtin

H2, H1 = b"h2", b"http/1.1"


def start_client(tls_start: TlsData) -> None:
    """Have mitmproxy's TlsConfig build ``tls_start.ssl_conn`` now, if nobody did."""
    if tls_start.ssl_conn is None:
        tlsconfig = builtin.tlsconfig()
        if tlsconfig is None:
            raise RuntimeError("fault_prefer_h2: mitmproxy's tlsconfig addon is not loaded")
        tlsconfig.tls_start_client(tls_start)


def choose_h2(tls_start: TlsData) -> bool:
    """Make the client connection answer ``h2`` if the client offered it and mitmproxy
    left the choice to the client's order. False: nothing changed (no h2 offered, or
    mitmproxy forces a protocol, e.g. HTTP/1.1 on a secure web proxy's own TLS)."""
    conn = tls_start.ssl_conn
    if conn is None or H2 not in (tls_start.conn.alpn_offers or ()):
        return False
    data = conn.get_app_data()
    if not isinstance(data, dict) or "client_alpn" not in data or data["client_alpn"] is not None:
        return False
    if not data.get("http2", True):
        return False
    data["client_alpn"] = H2
    return True


def h2_first(offers) -> tuple[bytes, ...]:
    """The same offers with ``h2`` first (the order an upstream is offered)."""
    return tuple(sorted(offers, key=lambda p: p != H2))
