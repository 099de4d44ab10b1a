"""Classification: wire record -> client-neutral outcome -> what each client reports.

    classify(flow)             -> Classification   (an HTTP flow, faulted or not)
    classify_handshake(...)    -> Classification   (a failed TLS handshake)
    classify_query(...)        -> Classification   (a DNS query the DNS mode answered)
    classify_websocket(flow)   -> Classification   (a WebSocket session, once it ended)
    classify_connection(...)   -> Classification | None   (a raw TCP connection through Toxiproxy)

``outcome`` (``faults.classify.outcome``) says what the client's socket and
protocol stack saw; ``clients`` holds one ``ClientReport`` per client profile
that speaks the protocol (``faults.classify.clients``: k6, curl, httpx, python,
grpcio, node, requests, aiohttp, java). This package imports nothing from ``faults.wire``: it reads the wire
record, whose fields ``faults.vocabulary`` declares.
"""

from __future__ import annotations

from dataclasses import dataclass

from faults.classify import clients as profiles, dns, http, tcp, tls, ws
from faults.classify.clients import k6_ws, report_all, websockets
from faults.classify.outcome import ClientReport, Event, Outcome

__all__ = ["Classification", "ClientReport", "Outcome", "classify", "classify_connection", "classify_handshake",
           "classify_query", "classify_websocket"]


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
    elif quic and kw.get("raw_action") == "alert":  # a TLS alert in QUIC is a CONNECTION_CLOSE
        alert = kw.get("flushed_alert")
        name = tls.TLS_ALERT_NAMES.get(alert, alert)
        o = Outcome(Event.TLS_ALERT, "tls.alert.remote", f"CONNECTION_CLOSE with CRYPTO_ERROR 0x{0x100 + alert:x} "
                    f"(a fatal {name} alert) instead of a ServerHello",
                    {"alert": alert, "flushed_alert": name, "raw_action": "alert", "host": kw.get("host"),
                     "quic_close": True})
    elif quic and kw.get("raw_action") == "close":
        o = Outcome(Event.QUIC_HANDSHAKE_CLOSE, "http3.connection.transport_error",
                    "CONNECTION_CLOSE NO_ERROR (0x1c) instead of a ServerHello",
                    {"raw_action": "close", "host": kw.get("host"), "quic_close": True,
                     "h3_error": {"name": "NO_ERROR", "value": 0, "space": "transport"}})
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


def classify_connection(*, end: str, bytes_down: int) -> Classification | None:
    """What the clients report for a raw TCP connection through a Toxiproxy proxy, read as
    the one HTTP/1.1 exchange it may have carried (``likely``: the proxy parsed no HTTP);
    None where its end says nothing (``faults.classify.tcp``)."""
    o = tcp.outcome_of_connection(end=end, bytes_down=bytes_down)
    if o is None:
        return None
    clients = report_all(o)
    for r in clients.values():
        if r.certainty == "exact":
            r.certainty = "likely"
        r.note = f"{r.note}; {tcp.ASSUMED}" if r.note else tcp.ASSUMED
    return Classification(o, clients)
