"""Classification: wire record -> client-neutral outcome -> what each client reports.

    classify(flow)             -> Classification   (an HTTP flow, faulted or not)
    classify_handshake(...)    -> Classification   (a failed TLS handshake)
    classify_query(...)        -> Classification   (a DNS query the DNS mode answered)
    classify_websocket(flow)   -> Classification   (a WebSocket session, once it ended)

``outcome`` (``faults.classify.outcome``) says what the client's socket and
protocol stack saw; ``clients`` holds one ``ClientReport`` per client profile
that speaks the protocol (``faults.classify.clients``: k6, curl, httpx, python,
grpcio, node, requests, aiohttp, java). This package imports nothing from ``faults.wire``: it reads the wire
record, whose fields ``faults.vocabulary`` declares.
"""

from __future__ import annotations

from dataclasses import dataclass

from faults.classify import clients as profiles, dns, http, tls, ws
from faults.classify.clients import k6_ws, report_all, websockets
from faults.classify.outcome import ClientReport, Event, Outcome

__all__ = ["Classification", "ClientReport", "Outcome", "classify", "classify_handshake", "classify_query",
           "classify_websocket"]


@dataclass
class Classification:
    outcome: Outcome
    clients: dict[str, ClientReport]
    shown: tuple[str, ...] = profiles.NAMES  # the profiles option fault_clients shows (the Classifier's)

    @property
    def k6(self) -> ClientReport:
        return self.clients["k6"]

    @property
    def entry(self) -> str:
        """The catalog id of what k6 reports (the annotation's id)."""
        return self.k6.entry or self.outcome.entry

    def clients_dict(self) -> dict:
        """The reports of the profiles option ``fault_clients`` shows (it chooses among the
        HTTP profiles; a WebSocket session's own profiles are always shown)."""
        return {name: r.as_dict() for name, r in self.clients.items()
                if name in self.shown or name not in profiles.NAMES}


def classify(flow) -> Classification:
    o = http.outcome_of(flow)
    return Classification(o, report_all(o))


def classify_handshake(params: dict, shown: tuple[str, ...] = profiles.NAMES, *, quic: bool = False,
                       **kw) -> Classification:
    """``quic``: an HTTP/3 client's QUIC handshake (only HTTP/3 clients' profiles apply)."""
    if quic and params.get("alpn") == "no_h3":  # aioquic's TLS refuses: no common protocol
        o = Outcome(Event.TLS_ALERT, "tls.alert.remote", "a no_application_protocol alert: the server offers no h3",
                    {"alert": 120, "host": kw.get("host")})
    else:
        o = tls.outcome_of_handshake(params, **kw)
    if quic:
        o.facts["protocol"] = "HTTP/3"
        o.summary += " (QUIC handshake)"
    return Classification(o, report_all(o), shown)


def classify_query(shown: tuple[str, ...] = profiles.NAMES, **kw) -> Classification:
    o = dns.outcome_of_query(**kw)
    return Classification(o, report_all(o), shown)


def classify_websocket(flow) -> Classification:
    """WebSocket clients report a session's end, not an HTTP error: their own profiles."""
    o = ws.outcome_of(flow)
    clients = {p.NAME: r for p in (k6_ws, websockets) if (r := p.report(o)) is not None}
    return Classification(o, clients)
