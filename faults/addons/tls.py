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

Hooks (the addon selects and dispatches; the kind does the work, through a
``HandshakeAct``, ``faults/wire/tlsact.py``):
- ``tls_clienthello``: select a rule (first matching connection-level rule of
  the injector, in its order), ask the kind's ``refusal`` and call its
  ``tls_clienthello`` (``handshake=...`` acts there, on the raw socket, before
  any TLS state exists).
- ``tls_start_client`` / ``quic_start_client``: the kind's ``tls_start`` /
  ``quic_start`` (``cert`` / ``client_cert`` / ``alpn`` / version faults serve
  our own TLS context, a leaf from ``faults.certs``).
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
from mitmproxy.proxy import context as pcontext
from mitmproxy.tls import ClientHelloData, TlsData

from faults import vocabulary
from faults.wire import sockets, tls as tlsbytes
from faults.wire.tlsact import LINGER_S, HandshakeAct, fail_handshake
from faults.addons.annotate import FAULT_KEY, shown_by
from faults.classify import classify_handshake
from faults.report import handshake_record

log = logging.getLogger(__name__)

TLS_STATE_KEY = vocabulary.TLS_STATE


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
        self.act: HandshakeAct | None = None  # the fault's door to this handshake
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
        elif state.flows == 0 and (error := state.fault.left_without_request()):
            # the handshake completed on our side, but the client rejected what the
            # fault served afterwards and left without a request
            self._record(state, client, error)

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
        state.act = act = HandshakeAct(client, state, stopping=self._stopping, factory=self.factory,
                                       report=lambda error: self._record(state, client, error))
        state.refused = rule.fault.refusal(act)
        if state.refused:
            if act.quic and rule.spec.text not in self._quic_said:
                self._quic_said.add(rule.spec.text)
                log.warning(f"tls fault {rule.spec.text!r} not applied to QUIC handshakes: {state.refused} "
                            "(said once per rule)")
            return
        # eager mode would handshake with the upstream first (to mirror its
        # certificate): not needed for a fault we serve, and fatal on a made-up host
        data.establish_server_tls_first = False
        await rule.fault.tls_clienthello(act)

    def quic_start_client(self, tls_start):
        """A QUIC handshake of a connection a ``tls cert=...`` rule selected: serve the bad
        chain through aioquic's TLS settings (mitmproxy's TlsConfig leaves preset settings)."""
        state = self._conns.get(tls_start.conn.id)
        if state is None or state.refused:
            return
        state.fault.quic_start(tls_start, state.act)

    def tls_start_client(self, tls_start: TlsData):
        if tls_start.ssl_conn is not None or tls_start.is_dtls:
            return
        state = self._conns.get(tls_start.conn.id)
        if state is None or state.refused:
            return
        if state.raw_action is not None:  # the raw answer already ended this connection
            fail_handshake(tls_start)
            return
        state.fault.tls_start(tls_start, state.act)

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

    # -- the record ----------------------------------------------------------
    def _record(self, state: ConnFault, client: connection.Client, error: str) -> None:
        if state.recorded:
            return
        state.recorded = True
        leaf = state.fault.record_leaf(state.act) if state.act is not None else None
        c = classify_handshake(state.fault.p, shown=shown_by(self.classifier),
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

