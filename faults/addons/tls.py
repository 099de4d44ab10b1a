"""The TLS fault addon: connection-level ``tls`` rules, applied at ClientHello.

A TLS fault is decided before any request exists, so its rule is matched
against a *connection flow*: an ``http.HTTPFlow`` on the real client/server
connections whose request is ``GET https://<SNI>:<port>/`` (without SNI the
host is the connection's target address). Filter expressions that apply to a
connection (see docs/tls.md):

- ``~d REGEX``   the SNI (or, without SNI, the target host)        <- the one to use
- ``~dst REGEX`` the upstream address (reverse target, CONNECT target)
- ``~src REGEX`` the client's address
- ``~u REGEX``   only ever sees ``https://<SNI>:<port>/``
- ``~q``, ``~http``, ``~all`` are always true; ``!``, ``&``, ``|`` and ``(..)`` combine;
- everything about the request or response (``~m``, ``~h``, ``~hq``, ``~b``,
  ``~bq``, ``~t``, ``~c``, ``~s``, ``~e``...) never matches: no request was read yet.

Hooks:
- ``tls_clienthello``: select a rule (first matching connection-level rule of
  the injector, in its order); ``handshake=...`` faults act here, on the raw
  socket, before any TLS state exists.
- ``tls_start_client``: for ``cert`` / ``client_cert`` / ``alpn`` / version
  faults, serve our own pyOpenSSL context (a leaf from ``faults.certs``).
- ``tls_failed_client``: flush the alert OpenSSL produced (mitmproxy does not)
  and write the connection record: every failed handshake of a faulted
  connection is exactly one report line (``Classifier.connection_record``).
- ``requestheaders``: flows on a faulted connection whose handshake succeeded
  carry the fault in their normal flow record.
"""

from __future__ import annotations

import asyncio
import logging
import time

from mitmproxy import connection, ctx, http
from mitmproxy.addons.tlsconfig import AppData, alpn_select_callback
from mitmproxy.proxy import context as pcontext
from mitmproxy.proxy.layers import modes
from mitmproxy.tls import ClientHelloData, TlsData
from OpenSSL import SSL

from faults import vocabulary
from faults.wire import sockets, tls as tlsbytes
from faults.addons.annotate import FAULT_KEY
from faults.classify import classify_handshake
from faults.classify.clients import NAMES
from faults.report import handshake_record

log = logging.getLogger(__name__)

TLS_STATE_KEY = vocabulary.TLS_STATE
LINGER_S = 1.0  # after an alert + FIN: how long to let the client read it and close
_VERSIONS = {
    "1.0": SSL.TLS1_VERSION,
    "1.1": SSL.TLS1_1_VERSION,
    "1.2": SSL.TLS1_2_VERSION,
    "1.3": SSL.TLS1_3_VERSION,
}


class ConnFault:
    """What the addon decided for one client connection."""

    def __init__(self, rule, host: str, sni: str | None):
        self.rule = rule
        self.fault = rule.fault
        self.host = host
        self.sni = sni
        self.recorded = False
        self.raw_action: str | None = None  # handshake=... : what went on the wire
        self.flushed_alert: int | None = None  # alert code we flushed for OpenSSL
        self.established = False
        self.refused: str | None = None  # a QUIC handshake this fault cannot act on: why
        self.flows = 0
        self.started = time.time()

    @property
    def marker(self) -> dict:
        return {"rule": self.rule.label, "spec": self.rule.spec.text, "kind": self.rule.spec.kind}


def connection_flow(context: pcontext.Context, host: str, port: int | None = None) -> http.HTTPFlow:
    """A flow-like object for a connection without a request yet, so that
    mitmproxy's flow filters (``~d``, ``~dst``, ``~src``) work on it."""
    server = context.server
    port = port or (server.address[1] if server.address else 443)
    flow = http.HTTPFlow(context.client, server, live=False)
    flow.request = http.Request(
        host=host, port=port, method=b"GET", scheme=b"https", authority=b"", path=b"/",
        http_version=b"HTTP/1.1", headers=http.Headers(), content=b"", trailers=None,
        timestamp_start=time.time(), timestamp_end=None,
    )
    return flow


class TlsFaults:
    name = "tlsfaults"

    def __init__(self, injector=None, classifier=None):
        self.injector, self.classifier = injector, classifier  # handed over by FaultAddon
        self._quic_said: set[str] = set()  # rules whose QUIC refusal was logged
        self._conns: dict[str, ConnFault] = {}
        self._factories: dict[str, object] = {}
        self._stopping = asyncio.Event()

    # -- plumbing ------------------------------------------------------------
    def running(self):
        self._stopping = asyncio.Event()

    def done(self):
        self._stopping.set()

    def _rules(self):
        return self.injector.rules_for("connection") if self.injector else []

    def factory(self):
        from faults.certs import CertFactory

        confdir = str(ctx.options.confdir)
        f = self._factories.get(confdir)
        if f is None:
            f = self._factories[confdir] = CertFactory.from_mitmproxy_confdir(confdir)
        return f

    def client_disconnected(self, client: connection.Client):
        state = self._conns.pop(client.id, None)
        if state is None or state.recorded or state.raw_action is not None:
            return
        if not state.established:
            # the client left before the handshake ended and mitmproxy saw no error
            self._record(state, client, "connection closed")
        elif state.flows == 0 and state.fault.get("cert"):
            # the handshake completed on our side, but the client rejected the
            # certificate afterwards and left without a request (curl checks the
            # host name only after the handshake)
            self._record(state, client, "client closed after the handshake without a request")

    # -- hooks ---------------------------------------------------------------
    def http_connect(self, flow: http.HTTPFlow):
        """Regular mode with mitmproxy's default ``connection_strategy=eager``
        connects to a CONNECT target before answering, and fails the CONNECT
        (502) when it cannot: a TLS fault on a made-up host (``expired.test``)
        would never get its ClientHello. For targets a TLS rule may select,
        answer the CONNECT at once, as ``lazy`` does (counters untouched)."""
        if ctx.options.connection_strategy != "eager" or flow.response is not None:
            return
        host, port = flow.request.host, flow.request.port
        cflow = connection_flow(pcontext.Context(flow.client_conn, ctx.options), host, port)
        if any(r.filter(cflow) for r in self._rules()):
            now = time.time()
            flow.response = http.Response(flow.request.data.http_version, 200, b"Connection established",
                                          http.Headers(), b"", None, now, now)

    async def tls_clienthello(self, data: ClientHelloData):
        client = data.context.client
        if client.id in self._conns:
            return
        sni = data.client_hello.sni
        host = sni or (data.context.server.address[0] if data.context.server.address else None)
        if not host:
            return
        flow = connection_flow(data.context, host)
        rule = next((r for r in self._rules() if r.select(flow)), None)
        if rule is None:
            return
        state = ConnFault(rule, host, sni)
        self._conns[client.id] = state
        if client.transport_protocol == "tcp" and rule.fault.get("alpn") == "no_h3":
            state.refused = "tls alpn=no_h3 acts on QUIC handshakes only"
            return
        if client.transport_protocol == "udp":  # a QUIC handshake: cert= and alpn=no_h3 have a QUIC meaning
            state.refused = quic_refusal(rule.fault)
            if state.refused:
                if rule.spec.text not in self._quic_said:
                    self._quic_said.add(rule.spec.text)
                    log.warning(f"tls fault {rule.spec.text!r} not applied to QUIC handshakes: {state.refused} "
                                "(said once per rule)")
                return
        # eager mode would handshake with the upstream first (to mirror its
        # certificate): not needed for a fault we serve, and fatal on a made-up host
        data.establish_server_tls_first = False
        how = rule.fault.get("handshake")
        if how:
            await self._raw_fault(client, state, how)

    def quic_start_client(self, tls_start):
        """A QUIC handshake of a connection a ``tls cert=...`` rule selected: serve the bad
        chain through aioquic's TLS settings (mitmproxy's TlsConfig leaves preset settings)."""
        state = self._conns.get(tls_start.conn.id)
        no_h3 = state is not None and state.fault.get("alpn") == "no_h3"
        if state is None or state.refused or not (state.fault.get("cert") or no_h3):
            return
        from cryptography.hazmat.primitives.serialization import load_pem_private_key
        from mitmproxy.proxy.layers.quic import QuicTlsSettings

        bundle = self.factory().leaf(state.host, state.fault.get("cert") or "valid")
        chain = bundle.certificates
        offers = [a.decode("ascii", "replace") for a in tls_start.conn.alpn_offers]
        tls_start.settings = QuicTlsSettings(
            alpn_protocols=["http/1.1"] if no_h3 else offers or None,  # no_h3: nothing the client offers
            certificate=chain[0], certificate_chain=chain[1:],
            certificate_private_key=load_pem_private_key(bundle.key_pem, None))

    def tls_start_client(self, tls_start: TlsData):
        if tls_start.ssl_conn is not None or tls_start.is_dtls:
            return
        state = self._conns.get(tls_start.conn.id)
        if state is None or state.refused:
            return
        if state.raw_action is not None:
            # the raw fault already ended this connection: a context without a
            # certificate fails at once, and nothing more reaches the client
            conn = SSL.Connection(SSL.Context(SSL.TLS_SERVER_METHOD))
            conn.set_accept_state()
            tls_start.ssl_conn = conn
            return
        tls_start.ssl_conn = self._ssl_conn(tls_start, state)

    def tls_established_client(self, tls_start: TlsData):
        state = self._conns.get(tls_start.conn.id)
        if state:
            state.established = True

    async def tls_failed_client(self, tls_start: TlsData):
        state = self._conns.get(tls_start.conn.id)
        if state is None or state.recorded:
            return
        flushed = False
        if state.raw_action is None and tls_start.ssl_conn is not None:
            flushed, state.flushed_alert = tlsbytes.flush_pending(tls_start.conn, tls_start.ssl_conn)
        self._record(state, tls_start.conn, tls_start.conn.error or "")
        if flushed:
            # FIN after the alert, then let the client read it: if we closed now,
            # bytes it is still sending (TLS 1.3: its request follows its
            # Finished) would make our kernel answer with an RST, which throws
            # away the unread alert on the client's side ("broken pipe").
            sockets.close(tls_start.conn)
            await tlsbytes.wait_client_closed(tls_start.conn, LINGER_S, self._stopping)

    def requestheaders(self, flow: http.HTTPFlow):
        state = self._conns.get(flow.client_conn.id)
        if state:
            state.flows += 1
        if state and state.refused:  # a QUIC-only fault on TCP, or one QUIC cannot carry
            key = "quic_refused" if flow.client_conn.transport_protocol == "tcp" else "h3_refused"
            flow.metadata.setdefault(vocabulary.WIRE, {})[key] = state.refused
        if state and FAULT_KEY not in flow.metadata:
            flow.metadata[FAULT_KEY] = state.marker
            flow.metadata[TLS_STATE_KEY] = {"host": state.host, "tls_version": flow.client_conn.tls_version,
                                            "alpn": (flow.client_conn.alpn or b"").decode() or None}

    # -- the fault -----------------------------------------------------------
    def _ssl_conn(self, tls_start: TlsData, state: ConnFault) -> SSL.Connection:
        fault = state.fault
        factory = self.factory()
        kind = fault.get("cert") or "valid"
        bundle = factory.leaf(state.host, kind)
        client_ca = factory.client_ca() if fault.get("client_cert") == "require" else None
        sslctx = bundle.openssl_context(client_ca_pem=client_ca)
        if fault.get("min_version"):
            sslctx.set_min_proto_version(_VERSIONS[fault.get("min_version")])
        if fault.get("max_version"):
            sslctx.set_max_proto_version(_VERSIONS[fault.get("max_version")])
        if fault.get("alpn") == "http1_only":
            sslctx.set_alpn_select_callback(_http1_only)
        else:
            sslctx.set_alpn_select_callback(alpn_select_callback)
        conn = SSL.Connection(sslctx)
        client, server = tls_start.conn, tls_start.context.server
        layers = tls_start.context.layers
        if len(layers) == 2 and isinstance(layers[0], modes.HttpProxy):
            client_alpn = b"http/1.1"  # as mitmproxy's TlsConfig: no CONNECT over h2
        else:
            client_alpn = client.alpn
        conn.set_app_data(AppData(client_alpn=client_alpn, server_alpn=server.alpn, http2=ctx.options.http2))
        conn.set_accept_state()
        return conn

    async def _raw_fault(self, client: connection.Client, state: ConnFault, how: str):
        fault = state.fault
        state.raw_action = how
        if how == "stall":
            gave_up = await tlsbytes.stall(client, fault.get("stall_ms") / 1000, self._stopping)
            if not gave_up:
                state.raw_action = "stall_released"
                sockets.close(client)
            self._record(state, client, "")
            return
        if how == "alert":
            tlsbytes.send_alert(client, fault.alert_code)
            state.flushed_alert = fault.alert_code
        elif how == "plaintext":
            tlsbytes.send_plaintext(client)
        elif how == "reset":
            sockets.reset(client)
        elif how == "close":
            sockets.close(client)
        self._record(state, client, "")
        if how != "reset":
            # let the client read what we sent before mitmproxy closes the socket
            await tlsbytes.wait_client_closed(client, LINGER_S, self._stopping)

    def _record(self, state: ConnFault, client: connection.Client, error: str) -> None:
        if state.recorded:
            return
        state.recorded = True
        leaf = None
        if state.fault.get("cert") in ("expired", "not_yet_valid"):
            try:
                leaf = self.factory().leaf(state.host, state.fault.get("cert")).leaf_cert
            except Exception:  # the record must be written anyway
                leaf = None
        c = classify_handshake(state.fault.p, shown=getattr(self.classifier, "shown", NAMES),
                               quic=client.transport_protocol == "udp", raw_action=state.raw_action, error=error,
                               host=state.host, flushed_alert=state.flushed_alert, leaf=leaf)
        port = client.sockname[1] if client.sockname else None
        rec = handshake_record(
            c, url=f"https://{state.host}:{port}/" if port else f"https://{state.host}/", host=state.host,
            sni=state.sni, client=f"{client.peername[0]}:{client.peername[1]}" if client.peername else None,
            rule=state.rule.label, fault=state.rule.spec.text, error=error,
        )
        if self.classifier is not None:
            self.classifier.connection_record(rec)
        log.info(f"tls fault {rec['fault']!r} on {state.host}: k6 {rec['k6_error_code']} {rec['k6_error']}")


def quic_refusal(fault) -> str | None:
    """Why a ``tls`` fault cannot act on a QUIC handshake (None: it can: ``cert=``)."""
    if fault.get("handshake"):
        return (f"tls handshake={fault.get('handshake')} writes raw TLS records on TCP; QUIC carries TLS in "
                "CRYPTO frames (not implemented)")
    other = [k for k in ("client_cert", "max_version", "min_version") if fault.get(k)]
    if fault.get("alpn") == "http1_only":
        other.append("alpn")
    if other:
        return f"tls {', '.join(f'{k}=' for k in other)} is not implemented for QUIC (TLS 1.3 only, ALPN h3)"
    return None


def _http1_only(conn: SSL.Connection, options: list[bytes]):
    return b"http/1.1" if b"http/1.1" in options else SSL.NO_OVERLAPPING_PROTOCOLS
