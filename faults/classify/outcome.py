"""The two shapes of classification.

- ``Outcome``: what the client's socket and protocol stack saw, client-neutral
  ("TCP RST after the response head on a reused HTTP/1.1 connection", "GOAWAY
  INTERNAL_ERROR covering this stream"). ``event`` names the kind of outcome
  (the table below), ``entry`` is the catalog id of that outcome, ``facts`` the
  details a client profile needs (protocol, phase, codes, ...).
- ``ClientReport``: what one client reports for an outcome, made by a client
  profile in ``faults.classify.clients``.

Events:

====================  ================================================================
tcp.rst / tcp.fin     the client connection ended (facts: phase, protocol, reused, ...)
client.gave_up        the client closed the exchange before any answer
client.goaway         the client closed the whole connection itself (its GOAWAY, facts: code)
proxy.released        the proxy stopped while the exchange was held or open
proxy.killed          mitmproxy killed the flow itself (no fault)
upstream.failed       the upstream failed before a response: mitmproxy answered 502
upstream.cut          the upstream failed mid-response
http.response         a complete response (facts: status)
http.informational    a 1xx (not 101) as the only answer
http.switching        a 101 on a request that is not a WebSocket upgrade
http.undecodable      the body does not decode (facts: encoding, decode_problem)
http.short_body       fewer body bytes than Content-Length announced
h2.rst_stream         RST_STREAM on this stream (facts: code, phase)
h2.goaway             GOAWAY on this stream's connection (facts: code, last_stream, ...)
h2.violation          the connection broke HTTP/2 (facts: violation, code)
h2.fallback           an HTTP/2 frame fault on a flow that is not HTTP/2: a TCP RST
grpc.status           a gRPC status in the trailers (facts: grpc_status)
tls.*                 a failed handshake: alert, plaintext, rst, fin, stall,
                      stall_released, bad_cert, unknown (faults.classify.tls)
unknown               no response and no error recorded
====================  ================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Outcome:
    event: str
    entry: str  # catalog id of what happened, e.g. "network.tcp.reset_by_peer"
    summary: str = ""  # one line, client-neutral
    facts: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"event": self.event, "entry": self.entry, "summary": self.summary}


@dataclass(slots=True)
class ClientReport:
    """What one client reports. ``error`` is what that client's users match on
    (k6: error_code; curl: exit code; Python: the exception class; grpcio: the
    status name); ``message`` its text. ``retried``: the client retries this
    transparently, so its user sees the retry's outcome instead (k6: True on
    the attempt it re-sends; the other profiles: how many silent re-sends
    follow, each meeting the fault again when the rule selects it again). ``alt``: other
    reports a racing client gives (then ``certainty`` is "uncertain")."""

    client: str
    error: Any
    message: str = ""
    certainty: str = "exact"  # exact | likely | uncertain
    note: str = ""
    retried: bool | int = False
    entry: str | None = None  # catalog id of this report, where the catalog has one
    alt: list[dict] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    def also(self, error, message: str = "", **extra) -> "ClientReport":
        """Name a second report a racing client gives."""
        self.alt.append({"error": error, "message": message, **extra})
        self.certainty = "uncertain"
        return self

    def resent(self) -> str:
        """The silent re-send counts named, this report's and its racing readings' ("1/2")."""
        own = int(self.retried)
        return "/".join(map(str, sorted({own} | {int(a.get("retried", own)) for a in self.alt})))

    def as_dict(self) -> dict:
        out = {"error": self.error, "message": self.message, "certainty": self.certainty}
        if self.note:
            out["note"] = self.note
        if self.retried:
            out["retried"] = self.retried
        if self.alt:
            out["alt"] = [dict(a) for a in self.alt]
        out.update(self.extra)
        return out
