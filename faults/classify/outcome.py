"""The two shapes of classification.

- ``Outcome``: what the client's socket and protocol stack saw, client-neutral
  ("TCP RST after the response head on a reused HTTP/1.1 connection", "GOAWAY
  INTERNAL_ERROR covering this stream"). ``event`` names the kind of outcome
  (``Event``), ``entry`` is the catalog id of that outcome, ``facts`` the
  details a client profile needs (protocol, phase, codes, ...).
- ``ClientReport``: what one client reports for an outcome, made by a client
  profile in ``faults.classify.clients``.

``Event`` names every kind of outcome: a ``StrEnum``, so an event is its
string wherever it goes (the report's ``outcome.event`` and ``ended``, flow
metadata, flow files) and compares equal to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Event(StrEnum):
    TCP_RST = "tcp.rst"  # the client connection ended (facts: phase, protocol, reused, ...)
    TCP_FIN = "tcp.fin"
    CLIENT_GAVE_UP = "client.gave_up"  # the client closed the exchange before any answer
    CLIENT_GOAWAY = "client.goaway"  # the client closed the whole connection itself (its GOAWAY, facts: code)
    PROXY_RELEASED = "proxy.released"  # the proxy stopped while the exchange was held or open
    PROXY_KILLED = "proxy.killed"  # mitmproxy killed the flow itself (no fault)
    UPSTREAM_FAILED = "upstream.failed"  # the upstream failed before a response: mitmproxy answered 502
    UPSTREAM_CUT = "upstream.cut"  # the upstream failed mid-response
    HTTP_RESPONSE = "http.response"  # a complete response (facts: status)
    HTTP_INFORMATIONAL = "http.informational"  # a 1xx (not 101) as the only answer
    HTTP_SWITCHING = "http.switching"  # a 101 on a request that is not a WebSocket upgrade
    HTTP_UNDECODABLE = "http.undecodable"  # the body does not decode (facts: encoding, decode_problem)
    HTTP_SHORT_BODY = "http.short_body"  # fewer body bytes than Content-Length announced
    H2_RST_STREAM = "h2.rst_stream"  # RST_STREAM on this stream (facts: code, phase)
    H2_GOAWAY = "h2.goaway"  # GOAWAY on this stream's connection (facts: code, last_stream, ...)
    H2_VIOLATION = "h2.violation"  # the connection broke HTTP/2 (facts: violation, code)
    H2_FALLBACK = "h2.fallback"  # an HTTP/2 frame fault on a flow that is not HTTP/2: a TCP RST
    GRPC_STATUS = "grpc.status"  # a gRPC status in the trailers (facts: grpc_status)
    # HTTP/3 (faults.classify.h3)
    H3_RESET_STREAM = "h3.reset_stream"  # RESET_STREAM (and STOP_SENDING) on this stream (facts: code, phase)
    H3_GOAWAY = "h3.goaway"  # GOAWAY on this stream's QUIC connection (facts: code, goaway_id, ...)
    H3_CONNECTION_CLOSE = "h3.connection_close"  # CONNECTION_CLOSE (facts: code, quic_error_space)
    QUIC_SILENCE = "quic.silence"  # the QUIC connection went silent after its handshake (datagram faults)
    QUIC_NO_HANDSHAKE = "quic.no_handshake"  # the QUIC handshake never completed (datagram faults)
    H3_CLIENT_CLOSE = "h3.client_close"  # the HTTP/3 client closed the connection itself (facts: h3_error)
    H3_PROXY_CLOSE = "h3.proxy_close"  # the proxy's own stack, not a fault, closed the QUIC connection (facts: h3_error)
    QUIC_HANDSHAKE_CLOSE = "quic.handshake_close"  # tls handshake=close: CONNECTION_CLOSE NO_ERROR for a ClientHello
    # a failed TLS handshake (faults.classify.tls)
    TLS_ALERT = "tls.alert"
    TLS_PLAINTEXT = "tls.plaintext"
    TLS_RST = "tls.rst"
    TLS_FIN = "tls.fin"
    TLS_STALL = "tls.stall"
    TLS_STALL_RELEASED = "tls.stall_released"
    TLS_BAD_CERT = "tls.bad_cert"
    TLS_UNKNOWN = "tls.unknown"
    # a DNS query the DNS mode answered, and the dial that follows (faults.classify.dns)
    DNS_ANSWER = "dns.answer"
    DNS_NO_SUCH_HOST = "dns.no_such_host"
    DNS_ERROR = "dns.error"
    DNS_DROP = "dns.drop"
    DIAL_REFUSED = "dial.refused"
    DIAL_BLACKHOLE = "dial.blackhole"
    # a WebSocket session's end (faults.classify.ws)
    WS_CLOSE = "ws.close"
    WS_RST = "ws.rst"
    WS_FIN = "ws.fin"
    WS_CORRUPT = "ws.corrupt"
    WS_STALL = "ws.stall"
    WS_CLIENT_CLOSED = "ws.client_closed"
    UNKNOWN = "unknown"  # no response and no error recorded


# what a sibling's fault can end an HTTP/2 connection with (faults.wire.collateral)
_CONNECTION_ENDS = frozenset({Event.TCP_RST, Event.TCP_FIN, Event.H2_GOAWAY, Event.H2_VIOLATION})


@dataclass(slots=True)
class Outcome:
    event: Event
    entry: str  # catalog id of what happened, e.g. "network.tcp.reset_by_peer"
    summary: str = ""  # one line, client-neutral
    facts: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"event": self.event, "entry": self.entry, "summary": self.summary}

    # -- the facts every client profile reads, defined here once. Computed on read (a few
    # dict lookups): the classifier fills ``facts`` in after it builds the outcome
    # (``classify_handshake`` sets the protocol last), so a cached value could go stale.
    @property
    def family(self) -> str:
        """The event's family: "tcp", "h2", "h3", "tls", "dns", "dial", "ws", ..."""
        return self.event.split(".", 1)[0]

    @property
    def h2(self) -> bool:
        """The flow speaks HTTP/2."""
        return str(self.facts.get("protocol", "")).startswith("HTTP/2")

    @property
    def h3(self) -> bool:
        """The flow speaks HTTP/3 (QUIC): only HTTP/3 clients' profiles apply."""
        return self.facts.get("protocol") == "HTTP/3"

    @property
    def involves_h2(self) -> bool:
        """HTTP/2 is involved: the flow speaks it, or an HTTP/2 frame fault acted (its TCP fallback
        included): an HTTP/1.1-only client was not there."""
        return self.h2 or self.family == "h2"

    @property
    def tcp_reset(self) -> bool:
        """A TCP RST ended the connection (an HTTP/2 frame fault's fallback is one)."""
        return self.event in (Event.TCP_RST, Event.H2_FALLBACK)

    @property
    def phase(self) -> str | None:
        """Where in the exchange the end came, as recorded (None: not recorded)."""
        return self.facts.get("phase")

    @property
    def before_response(self) -> bool:
        """No response byte had reached the client (a phase not recorded counts as before)."""
        return self.facts.get("phase", "before_response") == "before_response"

    @property
    def reused(self) -> bool:
        """The request came on a connection an earlier request had used."""
        return bool(self.facts.get("reused_connection"))

    @property
    def short_body(self) -> bool:
        """The stream ended short of the Content-Length it announced (truncate)."""
        return (self.facts.get("body_sent") or 0) < (self.facts.get("body_announced") or 0)

    @property
    def drains(self) -> bool:
        """The GOAWAY let the connection drain (``then=drain``) instead of closing it."""
        return self.facts.get("then") == "drain"

    @property
    def goaway_covers(self) -> bool:
        """The GOAWAY covers this stream: it was processed (HTTP/2: its id at or below
        last_stream_id, stream 1 when unknown; HTTP/3: below the GOAWAY's id, ``covered``)."""
        if self.family == "h3":
            return bool(self.facts.get("covered"))
        return (self.facts.get("stream_id") or 1) <= self.facts.get("last_stream", 0)

    @property
    def goaway_spared(self) -> bool:
        """The stream finished despite the GOAWAY: it came after the response, or it
        drained a connection whose GOAWAY covered the stream."""
        return self.phase == "after_response" or (self.drains and self.goaway_covers)

    @property
    def held_cut_by_sibling(self) -> bool:
        """HTTP/2: its own fault was holding this stream (hang, delay, stall, a lone 1xx) when another
        flow's fault ended the connection, and no cancel from the client had arrived before that end.
        A race the proxy cannot see through: the client's own timeout may have fired all the same, its
        cancel (RST_STREAM CANCEL) in flight as the proxy ended the connection, or (Go) written after
        the client's next request, whose fault then ended the connection first."""
        f = self.facts
        return (self.event in _CONNECTION_ENDS and self.h2 and f.get("hold_end") == "client_gone"
                and bool(f.get("collateral_of")))

    @property
    def cut_held_sibling(self) -> bool:
        """HTTP/2: this flow's own fault ended the connection while another flow's fault was holding a
        stream on it, with no cancel from the client before that end: the other side of
        ``held_cut_by_sibling`` (``cut_held``, read by ``faults.wire.holds`` at the end). A client whose
        timeout for the held stream fires just then may fail this flow too with what its cancel met
        (Go: the cancel's write fails on the reset connection, and it closes the whole connection)."""
        f = self.facts
        return (self.event in _CONNECTION_ENDS and self.h2 and bool(f.get("cut_held"))
                and not f.get("collateral_of"))

    @property
    def h3_error(self) -> dict:
        """HTTP/3: the frame's code ``{"name", "value", "space"}`` ({} when none)."""
        return self.facts.get("h3_error") or {}


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
