"""The datagram fault addon: ``quic_datagrams`` rules, chosen per QUIC connection.

- ``tls_clienthello`` of a QUIC client: select a rule (``~d`` is the SNI, as for ``tls``
  rules: ``faults.addons.tls.connection_flow``) and call its kind's ``quic_clienthello``
  with a ``faults.wire.datagrams.DatagramAct`` (the kind arms the connection's gate);
- ``requestheaders``: flows on a gated connection carry the fault and what the gate did
  so far; ``client_disconnected``: a gated connection on which no request arrived (the
  handshake itself was lost) gets one connection record.
"""

from __future__ import annotations

import logging

from faults import vocabulary
from faults.addons.annotate import FAULT_KEY, shown_by
from faults.addons.tls import connection_flow
from faults.classify import Classification, Outcome
from faults.classify.clients import report_all
from faults.report import handshake_record
from faults.wire import datagrams
from faults.classify.outcome import Event

log = logging.getLogger(__name__)


class DatagramFaults:
    name = "datagramfaults"

    def __init__(self, injector=None, classifier=None):
        self.injector, self.classifier = injector, classifier  # handed over by FaultAddon
        self._conns: dict[str, dict] = {}  # client id -> {"rule", "host", "flows"}

    def _rules(self):
        return self.injector.rules_for("quic") if self.injector else []

    def tls_clienthello(self, data):
        client = data.context.client
        if client.transport_protocol != "udp" or client.id in self._conns:
            return
        rules = self._rules()
        if not rules:
            return
        host = data.client_hello.sni or (data.context.server.address[0] if data.context.server.address else None)
        if not host:
            return
        rule = next((r for r in rules if r.select(connection_flow(data.context, host))), None)
        if rule is None:
            return
        self._conns[client.id] = {"rule": rule, "host": host, "flows": 0, "client": client}
        if not any(type(layer).__name__ == "DatagramGate" for layer in data.context.layers):
            log.warning(f"{rule.spec.text!r}: this QUIC connection does not run the faults' stack "
                        "(a reverse proxy's QUIC clients do): not applied")
            self._conns[client.id]["refused"] = "no datagram gate on this connection (reverse proxies only)"
            return
        rule.fault.quic_clienthello(datagrams.DatagramAct(client.id, self._conns[client.id], rule.rng))

    def tls_established_client(self, data):
        state = self._conns.get(data.conn.id)
        if state is not None and state.get("armed_later") is not None:
            datagrams.set_gate(data.conn.id, state.pop("armed_later"))
            state["silent_after_handshake"] = True

    def requestheaders(self, flow):
        state = self._conns.get(flow.client_conn.id)
        if state is None:
            return
        state["flows"] += 1
        rule = state["rule"]
        if FAULT_KEY not in flow.metadata:
            flow.metadata[FAULT_KEY] = {"rule": rule.label, "spec": rule.spec.text, "kind": rule.spec.kind}
        gate = datagrams.gate_of(flow.client_conn.id)
        wire = flow.metadata.setdefault(vocabulary.WIRE, {})
        if gate is not None:
            wire.update(gate.facts())
            if gate.drop >= 1 and gate.applies("to_client"):  # its answer can never reach the client
                wire["datagrams_blackholed"] = True
        elif state.get("refused"):
            wire["h3_refused"] = state["refused"]

    def done(self):
        """Connections still waiting for a handshake the gate keeps from completing: their
        record now (mitmproxy forgets a QUIC client only after its idle timeout)."""
        for cid in list(self._conns):
            self._lost(cid, None)

    def client_disconnected(self, client):
        self._lost(client.id, client)

    def _lost(self, cid: str, client) -> None:
        state = self._conns.pop(cid, None)
        gate = datagrams.forget(cid)
        if state is None or gate is None or state["flows"]:
            return
        client = client or state["client"]
        rule, host = state["rule"], state["host"]
        facts = {"protocol": "HTTP/3", **gate.facts(), "host": host}
        dropped = f"{gate.dropped['to_client']} datagrams to the client and {gate.dropped['to_server']} from it dropped"
        if state.get("silent_after_handshake"):
            o = Outcome(Event.QUIC_SILENCE, "client.timeout.request",
                        f"the QUIC connection went silent after its handshake: {dropped}", facts)
        else:
            o = Outcome(Event.QUIC_NO_HANDSHAKE, "client.timeout.request",
                        f"the QUIC handshake never completed: {dropped}", facts)
        clients = report_all(o)  # k6 (none: no HTTP/3) and the HTTP/3 clients' profiles
        port = client.sockname[1] if client.sockname else None
        shown = shown_by(self.classifier)  # the profiles option fault_clients shows
        rec = handshake_record(Classification(o, clients, shown), url=f"https://{host}:{port}/", host=host, sni=host,
                               client=f"{client.peername[0]}:{client.peername[1]}" if client.peername else None,
                               rule=rule.label, fault=rule.spec.text, error="QUIC handshake never completed")
        if self.classifier is not None:
            self.classifier.connection_record(rec)
