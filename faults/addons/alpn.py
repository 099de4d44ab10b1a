"""Option ``fault_prefer_h2``: when a TLS client offers both ``http/1.1`` and ``h2``
by ALPN, the proxy answers ``h2``, whatever the client's order.

Node's undici (``allowH2: true``) and httpx (``http2=True``) offer ``http/1.1``
first, and mitmproxy follows the client's order, so without this they never speak
HTTP/2 through the proxy and their HTTP/2 behaviour cannot be tested.

- client side (``tls_start_client``): h2 is chosen even when mitmproxy has already
  connected to a TLS upstream that answered ``http/1.1`` (mitmproxy would mirror that);
  mitmproxy then translates, HTTP/2 to the client and HTTP/1.1 to the upstream. A
  plain-HTTP upstream (``reverse:http://...``) is always spoken to in HTTP/1.1.
- upstream side (``tls_start_server``): the upstream is offered the client's
  protocols with ``h2`` first, so an upstream that honours the client's order
  speaks HTTP/2 too.
- a connection-level ``tls alpn=http1_only`` fault still wins (it has its own
  callback), and so does ``--set http2=false``.
"""

from __future__ import annotations

import logging

from mitmproxy import ctx
from mitmproxy.tls import TlsData

from faults.wire import alpn

log = logging.getLogger(__name__)
OPTION = "fault_prefer_h2"


class H2Preference:
    name = "h2preference"

    def load(self, loader):
        loader.add_option(
            OPTION, bool, False,
            "When a TLS client offers both http/1.1 and h2 by ALPN, answer h2 (mitmproxy follows the "
            "client's order; undici with allowH2 and httpx with http2=True offer http/1.1 first).",
        )

    def _wanted(self, offers) -> bool:
        return bool(ctx.options.fault_prefer_h2 and ctx.options.http2 and offers and alpn.H2 in offers)

    def tls_start_client(self, tls_start: TlsData):
        if tls_start.is_dtls or not self._wanted(tls_start.conn.alpn_offers):
            return
        alpn.start_client(tls_start)
        if alpn.choose_h2(tls_start):
            log.debug(f"{OPTION}: h2 chosen for a client offering {list(tls_start.conn.alpn_offers)}")

    def tls_start_server(self, tls_start: TlsData):
        server, client = tls_start.conn, tls_start.context.client
        if tls_start.is_dtls or server.alpn_offers or not self._wanted(client.alpn_offers):
            return
        server.alpn_offers = alpn.h2_first(client.alpn_offers)
