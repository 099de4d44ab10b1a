"""A failed TLS handshake -> its client-neutral ``Outcome``.

Input: the ``tls`` fault's parameters, what the addon put on the wire
(``raw_action``: alert / plaintext / reset / close / stall), the alert it
flushed for OpenSSL, and mitmproxy's own handshake error.
"""

from __future__ import annotations

import datetime

from faults.catalog.tables import TLS_ALERT_NAMES
from faults.classify.outcome import Event, Outcome

CERT_ENTRIES = {  # the certificate kinds of the ``tls`` fault -> catalog id
    "untrusted": "tls.x509.unknown_authority",
    "self_signed": "tls.x509.unknown_authority",
    "incomplete_chain": "tls.x509.unknown_authority",
    "wrong_host": "tls.x509.hostname_mismatch",
    "expired": "tls.x509.invalid_certificate",
    "not_yet_valid": "tls.x509.invalid_certificate",
    "weak_key": "tls.x509.invalid_certificate",
    "sha1": "tls.x509.insecure_algorithm",
}
# mitmproxy's handshake error when the client itself refused our certificate
_CLIENT_REJECTED = ("unknown ca", "bad certificate", "certificate unknown", "certificate expired",
                    "unsupported certificate", "does not trust", "decrypt error", "insufficient security")


def outcome_of_handshake(params: dict, *, raw_action: str | None, error: str, host: str,
                         flushed_alert: int | None = None, leaf=None,
                         now: datetime.datetime | None = None) -> Outcome:
    facts: dict = {"raw_action": raw_action, "flushed_alert": TLS_ALERT_NAMES.get(flushed_alert, flushed_alert),
                   "host": host}
    cert = params.get("cert") or ""
    err = (error or "").lower()
    client_rejected_cert = any(s in err for s in _CLIENT_REJECTED)

    if raw_action == "alert":
        o = Outcome(Event.TLS_ALERT, "tls.alert.remote", f"a fatal {TLS_ALERT_NAMES.get(flushed_alert)} alert "
                    "instead of a ServerHello", {"alert": flushed_alert})
    elif raw_action == "plaintext":
        o = Outcome(Event.TLS_PLAINTEXT, "tls.record.header", "plain HTTP bytes in answer to the ClientHello")
    elif raw_action == "reset":
        o = Outcome(Event.TLS_RST, "network.tcp.reset_by_peer", "TCP RST after the ClientHello")
    elif raw_action == "close":
        o = Outcome(Event.TLS_FIN, "network.tcp.closed", "FIN after the ClientHello")
    elif raw_action == "stall":
        o = Outcome(Event.TLS_STALL, "client.timeout.request", "the ClientHello was never answered; the client gave up")
    elif raw_action == "stall_released":
        o = Outcome(Event.TLS_STALL_RELEASED, "network.tcp.closed", "the ClientHello was never answered, then FIN "
                    "(stall_ms or proxy shutdown)")
    elif flushed_alert is not None and not client_rejected_cert:
        code, encrypted = flushed_alert, flushed_alert == -1
        if encrypted:  # TLS 1.3: encrypted alert; which one OpenSSL sends follows from its error
            code = 116 if "did not return a certificate" in err else 48
            facts["flushed_alert"] = TLS_ALERT_NAMES.get(code, code)
        o = Outcome(Event.TLS_ALERT, "tls.alert.remote", f"the handshake failed on our side: a fatal "
                    f"{TLS_ALERT_NAMES.get(code, code)} alert", {"alert": code, "encrypted": encrypted})
    elif cert:
        o = Outcome(Event.TLS_BAD_CERT, CERT_ENTRIES[cert], f"a {cert} certificate for {host}", {"cert": cert})
        if cert in ("expired", "not_yet_valid"):
            o.facts["now"] = now or datetime.datetime.now(datetime.timezone.utc)
            if leaf is not None:
                o.facts["bound"] = leaf.not_valid_after_utc if cert == "expired" else leaf.not_valid_before_utc
    else:
        o = Outcome(Event.TLS_UNKNOWN, "tls.handshake.failed",
                    f"the handshake failed without an alert mitmproxy could flush: {error}")
    o.facts = {**facts, **o.facts}
    return o
