"""What a connection-level fault may do to a client's TLS handshake, and the record of it.

The handshake counterpart of ``faults.wire.act.Act``: a ``level = "connection"`` kind's
hooks (``tls_clienthello``, ``tls_start``, ``quic_start``) act through it. What went on
the wire is written on the connection's state (``raw_action``: the answer to the
ClientHello; ``flushed_alert``: the alert the client was sent), which the TLS addon
classifies; ``report(error)`` writes the connection's one record.
"""

from __future__ import annotations

import asyncio
from typing import Callable

from mitmproxy import connection, ctx
from mitmproxy.addons.tlsconfig import AppData, alpn_select_callback
from mitmproxy.proxy.layers import modes
from mitmproxy.tls import TlsData
from OpenSSL import SSL

from faults.wire import sockets, tls as tlsbytes

LINGER_S = 1.0  # after an alert + FIN: how long to let the client read it and close
VERSIONS = {
    "1.0": SSL.TLS1_VERSION,
    "1.1": SSL.TLS1_1_VERSION,
    "1.2": SSL.TLS1_2_VERSION,
    "1.3": SSL.TLS1_3_VERSION,
}


class HandshakeAct:
    """``state`` has ``host``, ``raw_action`` and ``flushed_alert`` (the TLS addon's
    ``ConnFault``); ``factory()`` is the certificate factory (``faults.certs``)."""

    def __init__(self, client: connection.Client, state, *, stopping: asyncio.Event,
                 factory: Callable, report: Callable[[str], None]):
        self.client, self.state = client, state
        self.stopping, self.factory, self.report = stopping, factory, report

    @property
    def quic(self) -> bool:
        """A QUIC handshake (HTTP/3), not a TLS one over TCP."""
        return self.client.transport_protocol == "udp"

    # -- answers to the ClientHello, before any TLS state exists ---------------
    def send_alert(self, code: int) -> None:
        self.state.raw_action, self.state.flushed_alert = "alert", code
        tlsbytes.send_alert(self.client, code)

    def send_plaintext(self) -> None:
        self.state.raw_action = "plaintext"
        tlsbytes.send_plaintext(self.client)

    def reset(self) -> None:
        self.state.raw_action = "reset"
        sockets.reset(self.client)

    def close(self) -> None:
        self.state.raw_action = "close"
        sockets.close(self.client)

    async def answered(self) -> None:
        """Record the answer, then (unless it was an RST) let the client read what we
        sent before mitmproxy closes the socket."""
        self.report("")
        if self.state.raw_action != "reset":
            await tlsbytes.wait_client_closed(self.client, LINGER_S, self.stopping)

    async def stall(self, seconds: float) -> None:
        """Never answer; a client that does not give up within ``seconds`` is closed."""
        self.state.raw_action = "stall"
        gave_up = await tlsbytes.stall(self.client, seconds, self.stopping)
        if not gave_up:
            self.state.raw_action = "stall_released"
            sockets.close(self.client)
        self.report("")

    def quic_close(self, alert: tuple[int, str] | None = None) -> None:
        """A QUIC CONNECTION_CLOSE in answer to the ClientHello: CRYPTO_ERROR 0x100+alert
        (what a TLS alert is in QUIC, RFC 9001 4.8) for ``alert=(code, name)``, else
        NO_ERROR (no TLS said anything: QUIC's counterpart of a FIN)."""
        from faults.wire import quic

        if alert is not None:
            code, name = alert
            self.state.raw_action, self.state.flushed_alert = "alert", code
            quic.handshake_closes[self.client.id] = (0x100 + code, quic.CRYPTO_FRAME, f"fault: TLS alert {name}")
        else:
            self.state.raw_action = "close"
            quic.handshake_closes[self.client.id] = (0x0, quic.PADDING_FRAME, "fault: closed after the ClientHello")
        self.report("")

    # -- our own TLS server side ---------------------------------------------------
    def leaf(self, cert: str):
        """The certificate bundle of kind ``cert`` for this connection's host (``faults.certs``)."""
        return self.factory().leaf(self.state.host, cert)

    def serve(self, data: TlsData, cert: str, *, client_ca: bool = False, min_version: str = "",
              max_version: str = "", http1_only: bool = False) -> None:
        """Serve a leaf of kind ``cert`` (``faults.certs``), demanding a client certificate
        from the client CA, within these TLS versions, never negotiating h2."""
        factory = self.factory()
        bundle = self.leaf(cert)
        sslctx = bundle.openssl_context(client_ca_pem=factory.client_ca() if client_ca else None)
        if min_version:
            sslctx.set_min_proto_version(VERSIONS[min_version])
        if max_version:
            sslctx.set_max_proto_version(VERSIONS[max_version])
        sslctx.set_alpn_select_callback(_http1_only if http1_only else alpn_select_callback)
        conn = SSL.Connection(sslctx)
        client, server = data.conn, data.context.server
        layers = data.context.layers
        if len(layers) == 2 and isinstance(layers[0], modes.HttpProxy):
            client_alpn = b"http/1.1"  # as mitmproxy's TlsConfig: no CONNECT over h2
        else:
            client_alpn = client.alpn
        conn.set_app_data(AppData(client_alpn=client_alpn, server_alpn=server.alpn, http2=ctx.options.http2))
        conn.set_accept_state()
        data.ssl_conn = conn

    def serve_quic(self, data, cert: str, *, no_h3: bool = False) -> None:
        """A QUIC handshake: serve a leaf of kind ``cert`` through aioquic's TLS settings
        (mitmproxy's TlsConfig leaves preset settings); ``no_h3``: offer no protocol the
        client asked for."""
        from cryptography.hazmat.primitives.serialization import load_pem_private_key
        from mitmproxy.proxy.layers.quic import QuicTlsSettings

        bundle = self.leaf(cert)
        chain = bundle.certificates
        offers = [a.decode("ascii", "replace") for a in data.conn.alpn_offers]
        data.settings = QuicTlsSettings(
            alpn_protocols=["http/1.1"] if no_h3 else offers or None,
            certificate=chain[0], certificate_chain=chain[1:],
            certificate_private_key=load_pem_private_key(bundle.key_pem, None))


def fail_handshake(data: TlsData) -> None:
    """A context without a certificate: the handshake fails at once, nothing more reaches the
    client (a connection a raw answer to its ClientHello already ended)."""
    conn = SSL.Connection(SSL.Context(SSL.TLS_SERVER_METHOD))
    conn.set_accept_state()
    data.ssl_conn = conn


def _http1_only(conn: SSL.Connection, options: list[bytes]):
    return b"http/1.1" if b"http/1.1" in options else SSL.NO_OVERLAPPING_PROTOCOLS
