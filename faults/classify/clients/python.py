"""Python's ``ssl`` module (what requests, httpx and aiohttp raise underneath)
on a failed TLS handshake: the exception class and OpenSSL's reason, as
measured in ``tests/e2e/test_tls_faults.py``. HTTP outcomes: see ``httpx.py``."""

from __future__ import annotations

from faults.classify.outcome import ClientReport, Event, Outcome

NAME = "python"

# OpenSSL's reason text for a received alert (ssl_err.c: SSL_R_SSLV3_ALERT_* / TLSV1_*)
OPENSSL_ALERT_REASON = {
    10: "sslv3 alert unexpected message", 20: "sslv3 alert bad record mac",
    22: "tlsv1 alert record overflow", 40: "sslv3 alert handshake failure",
    42: "sslv3 alert bad certificate", 43: "sslv3 alert unsupported certificate",
    44: "sslv3 alert certificate revoked", 45: "sslv3 alert certificate expired",
    46: "sslv3 alert certificate unknown", 47: "sslv3 alert illegal parameter",
    48: "tlsv1 alert unknown ca", 49: "tlsv1 alert access denied", 50: "tlsv1 alert decode error",
    51: "tlsv1 alert decrypt error", 70: "tlsv1 alert protocol version",
    71: "tlsv1 alert insufficient security", 80: "tlsv1 alert internal error",
    86: "tlsv1 alert inappropriate fallback", 109: "tlsv13 alert missing extension",
    110: "tlsv1 unsupported extension", 112: "tlsv1 unrecognized name",
    113: "tlsv1 bad certificate status response", 115: "tlsv1 bad certificate hash value",
    116: "tlsv13 alert certificate required", 120: "tlsv1 alert no application protocol",
}
CERT_REASONS = {
    "untrusted": "self-signed certificate in certificate chain",
    "self_signed": "self-signed certificate",
    "incomplete_chain": "unable to get local issuer certificate",
    "wrong_host": "Hostname mismatch, certificate is not valid for '{host}'.",
    "expired": "certificate has expired",
    "not_yet_valid": "certificate is not yet valid",
    "weak_key": "EE certificate key too weak",
    "sha1": "CA signature digest algorithm too weak",
}


def alert_reason(code: int) -> str:
    return OPENSSL_ALERT_REASON.get(code, f"alert number {code}")


def report(o: Outcome) -> ClientReport | None:
    f, ev = o.facts, o.event
    if ev == Event.TLS_ALERT:
        return ClientReport(NAME, "SSLError", alert_reason(f["alert"]))
    if ev == Event.TLS_PLAINTEXT:
        return ClientReport(NAME, "SSLError", "wrong version number")
    if ev == Event.TLS_RST:
        return ClientReport(NAME, "ConnectionResetError", "Connection reset by peer")
    if ev == Event.TLS_FIN:
        return ClientReport(NAME, "SSLEOFError", "EOF occurred in violation of protocol")
    if ev in (Event.TLS_STALL, Event.TLS_STALL_RELEASED):
        return ClientReport(NAME, "TimeoutError", "timed out")
    if ev == Event.TLS_BAD_CERT:
        return ClientReport(NAME, "SSLCertVerificationError", CERT_REASONS[f["cert"]].format(host=f.get("host", "")))
    return None
