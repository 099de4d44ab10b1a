"""Datagram faults on an HTTP/3 client's UDP path: drop or delay a fraction of its datagrams.

``DatagramGate`` is a sans-io layer on top of the stack ``faults.wire.quic`` builds for a
QUIC client: every datagram from the client arrives as a ``DataReceived`` event and every
datagram to it leaves as a ``SendData`` command through it, so it can drop one, or hold it
for ``delay_ms`` (a ``RequestWakeup``) and let it through then. It does nothing until a
``quic_datagrams`` rule selected the connection (``faults.addons.datagrams``, at the QUIC
ClientHello, which it lets through: the gate acts on the datagrams after it).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from mitmproxy.proxy import events, layer
from mitmproxy.proxy.commands import RequestWakeup, SendData


@dataclass
class Gate:
    """What a quic_datagrams fault does to one client connection, and what it did."""

    drop: float  # fraction of datagrams dropped (1.0: every one: "HTTP/3 broken")
    delay_ms: int  # added to each datagram that is not dropped
    direction: str  # both | to_client | to_server
    rng: random.Random = field(default_factory=random.Random)
    dropped: dict = field(default_factory=lambda: {"to_client": 0, "to_server": 0})
    passed: dict = field(default_factory=lambda: {"to_client": 0, "to_server": 0})

    def applies(self, way: str) -> bool:
        return self.direction in ("both", way)

    def drops(self, way: str) -> bool:
        if self.applies(way) and self.drop > 0 and (self.drop >= 1 or self.rng.random() < self.drop):
            self.dropped[way] += 1
            return True
        self.passed[way] += 1
        return False

    def facts(self) -> dict:
        return {"datagrams_dropped": dict(self.dropped), "datagrams_passed": dict(self.passed)}


_gates: dict[str, Gate] = {}  # client connection id -> its gate, once a rule selected it


def set_gate(client_id: str, gate: Gate) -> None:
    _gates[client_id] = gate


def gate_of(client_id: str) -> Gate | None:
    return _gates.get(client_id)


def forget(client_id: str) -> Gate | None:
    return _gates.pop(client_id, None)


class DatagramAct:
    """What a ``level = "quic"`` fault may do to one QUIC connection: its
    ``quic_clienthello(act)`` hook gates the connection's datagrams through it.
    ``state`` is the datagram addon's per-connection state (``armed_later``: a
    gate that starts at the end of the handshake)."""

    def __init__(self, client_id: str, state: dict, rng: random.Random):
        self.client_id, self.state, self.rng = client_id, state, rng

    def gate(self, drop: float, delay_ms: int, direction: str, *, after_handshake: bool = False) -> None:
        gate = Gate(drop, delay_ms, direction, rng=self.rng)
        if after_handshake:
            self.state["armed_later"] = gate  # armed at tls_established_client
        else:
            set_gate(self.client_id, gate)


class DatagramGate(layer.Layer):
    child_layer: layer.Layer

    def __init__(self, context):
        super().__init__(context)
        self.held: dict[RequestWakeup, tuple[str, bytes]] = {}

    def _handle_event(self, event):
        if isinstance(event, events.Wakeup) and event.command in self.held:
            way, data = self.held.pop(event.command)
            if way == "to_server":
                yield from self.down(events.DataReceived(self.context.client, data))
            elif self.context.client.connected:
                yield SendData(self.context.client, data)
            return
        gate = _gates.get(self.context.client.id)
        if (gate is not None and isinstance(event, events.DataReceived) and event.connection == self.context.client
                and gate.applies("to_server")):
            if gate.drops("to_server"):
                return
            if gate.delay_ms:
                yield from self.hold(gate, "to_server", event.data)
                return
        yield from self.down(event)

    def down(self, event):
        for command in self.child_layer.handle_event(event):
            gate = _gates.get(self.context.client.id)
            if (gate is not None and isinstance(command, SendData) and command.connection == self.context.client
                    and gate.applies("to_client")):
                if gate.drops("to_client"):
                    continue
                if gate.delay_ms:
                    yield from self.hold(gate, "to_client", command.data)
                    continue
            yield command

    def hold(self, gate: Gate, way: str, data: bytes):
        wake = RequestWakeup(gate.delay_ms / 1000)
        self.held[wake] = (way, data)
        yield wake
