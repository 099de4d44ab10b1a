"""A failed TLS handshake -> what k6 1.1.0 reports (plus what curl and Python say).

Input: the ``tls`` fault's parameters, what the addon put on the wire
(``raw_action``: alert / plaintext / reset / close / stall), the alert it
flushed for OpenSSL, and mitmproxy's own handshake error. The codes are the
ones the real k6 reported in ``tests/e2e/test_tls_faults.py`` (docs/tls.md);
where k6's docs differ, the binary wins.

``facts["clients"]`` holds the predictions for the other clients the e2e
tests drive: ``curl`` (exit code + the ``curl: (N) ...`` text) and
``python`` (the ``ssl`` exception's class and OpenSSL reason).
"""

from __future__ import annotations

import datetime

from faults.classify.http import Verdict
from faults.kinds.tls import ALERTS

# Go's crypto/tls alert texts (alert.go)
GO_ALERT_TEXT = {
    10: "unexpected message", 20: "bad record MAC", 22: "record overflow", 40: "handshake failure",
    42: "bad certificate", 43: "unsupported certificate", 44: "revoked certificate",
    45: "expired certificate", 46: "unknown certificate", 47: "illegal parameter",
    48: "unknown certificate authority", 49: "access denied", 50: "error decoding message",
    51: "error decrypting message", 70: "protocol version not supported",
    71: "insufficient security level", 80: "internal error", 86: "inappropriate fallback",
    109: "missing extension", 110: "unsupported extension", 112: "unrecognized name",
    113: "bad certificate status response", 115: "unknown PSK identity", 116: "certificate required",
    120: "no application protocol",
}
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
ALERT_NAMES = {v: k for k, v in ALERTS.items()}

UNKNOWN_AUTHORITY = "x509: unknown authority"  # k6 1.1.0 shortens Go's text (measured)

# cert kind -> (k6 code, k6 error | None for a computed one, curl exit, curl text, python class, python reason)
CERT_OUTCOMES = {
    "untrusted": (1310, UNKNOWN_AUTHORITY, 60, "SSL certificate problem: self-signed certificate in certificate chain",
                  "SSLCertVerificationError", "self-signed certificate in certificate chain"),
    "self_signed": (1310, UNKNOWN_AUTHORITY, 60, "SSL certificate problem: self-signed certificate",
                    "SSLCertVerificationError", "self-signed certificate"),
    "incomplete_chain": (1310, UNKNOWN_AUTHORITY, 60, "SSL certificate problem: unable to get local issuer certificate",
                         "SSLCertVerificationError", "unable to get local issuer certificate"),
    "wrong_host": (1311, None, 60, "SSL: no alternative certificate subject name matches target host name '{host}'",
                   "SSLCertVerificationError", "Hostname mismatch, certificate is not valid for '{host}'."),
    "expired": (1000, None, 60, "SSL certificate problem: certificate has expired",
                "SSLCertVerificationError", "certificate has expired"),
    "not_yet_valid": (1000, None, 60, "SSL certificate problem: certificate is not yet valid",
                      "SSLCertVerificationError", "certificate is not yet valid"),
    "weak_key": (0, "", 60, "SSL certificate problem: EE certificate key too weak",
                 "SSLCertVerificationError", "EE certificate key too weak"),
    # Go finds no acceptable chain (the SHA-1 signature is refused while building it):
    # UnknownAuthorityError, not the InsecureAlgorithmError k6's docs suggest (measured)
    "sha1": (1310, UNKNOWN_AUTHORITY,
             60, "SSL certificate problem: CA signature digest algorithm too weak",
             "SSLCertVerificationError", "CA signature digest algorithm too weak"),
}


def _go_time(t: datetime.datetime) -> str:
    return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def k6_cert_error(kind: str, host: str, leaf=None, now: datetime.datetime | None = None) -> tuple[int, str]:
    """(code, error) k6 reports for a certificate of this kind (Go verifier order:
    validity period, then host name, then chain)."""
    code, text = CERT_OUTCOMES[kind][:2]
    if kind == "wrong_host":
        text = "x509: certificate doesn't match hostname"  # k6's own text for 1311 (measured)
    elif kind in ("expired", "not_yet_valid"):
        now = now or datetime.datetime.now(datetime.timezone.utc)
        if leaf is not None:
            bound = leaf.not_valid_after_utc if kind == "expired" else leaf.not_valid_before_utc
            rel = "after" if kind == "expired" else "before"
            text = (f"x509: certificate has expired or is not yet valid: current time {_go_time(now)} "
                    f"is {rel} {_go_time(bound)}")
        else:
            text = "x509: certificate has expired or is not yet valid"
    return code, text


def alert_outcome(code: int, *, remote: bool = True) -> dict:
    go = GO_ALERT_TEXT.get(code, f"alert({code})")
    reason = OPENSSL_ALERT_REASON.get(code, f"alert number {code}")
    return {
        "k6": (1010, f"remote error: tls: {go}"),
        "curl": (35, f"OpenSSL/3.0: error:0A{0:06X}:SSL routines::{reason}"),
        "python": ("SSLError", reason),
    }


def classify_handshake(params: dict, *, raw_action: str | None, error: str, host: str,
                       flushed_alert: int | None = None, leaf=None) -> Verdict:
    """The verdict for one failed (or deliberately ended) handshake."""
    clients: dict = {}
    facts: dict = {"raw_action": raw_action, "flushed_alert": ALERT_NAMES.get(flushed_alert, flushed_alert)}
    cert = params.get("cert") or ""
    err = (error or "").lower()
    client_rejected_cert = any(s in err for s in ("unknown ca", "bad certificate", "certificate unknown",
                                                  "certificate expired", "unsupported certificate",
                                                  "does not trust", "decrypt error", "insufficient security"))

    if raw_action == "alert":
        a = alert_outcome(flushed_alert)
        v = Verdict(*a["k6"])
        clients = {"curl": {"exit": 35, "reason": a["python"][1]}, "python": {"error": a["python"][0], "reason": a["python"][1]}}
    elif raw_action == "plaintext":
        v = Verdict(1301, "tls: first record does not look like a TLS handshake")
        clients = {"curl": {"exit": 35, "reason": "wrong version number"},
                   "python": {"error": "SSLError", "reason": "wrong version number"}}
    elif raw_action == "reset":
        v = Verdict(1220, "read: connection reset by peer")
        clients = {"curl": {"exit": 35, "reason": "Connection reset by peer"},
                   "python": {"error": "ConnectionResetError", "reason": "Connection reset by peer"}}
    elif raw_action == "close":
        v = Verdict(1000, "EOF")
        clients = {"curl": {"exit": 35, "reason": "SSL_ERROR_SYSCALL"},
                   "python": {"error": "SSLEOFError", "reason": "EOF occurred in violation of protocol"}}
    elif raw_action in ("stall", "stall_released"):
        if raw_action == "stall":
            v = Verdict(1050, "request timeout", certainty="likely",
                        note="the client gave up on a handshake that was never answered; k6 reports 1050 "
                             "when its request timeout fires (k6 sets no TLS handshake timeout)")
        else:
            v = Verdict(1000, "EOF", certainty="likely", note="the stall ended (stall_ms or shutdown) with a FIN")
        clients = {"curl": {"exit": 28, "reason": "timed out"}, "python": {"error": "TimeoutError", "reason": "timed out"}}
    elif flushed_alert is not None and not client_rejected_cert:
        code = flushed_alert
        if code == -1:  # TLS 1.3: encrypted alert; which one OpenSSL sends follows from its error
            code = 116 if "did not return a certificate" in err else 48
            facts["flushed_alert"] = ALERT_NAMES.get(code, code)
        a = alert_outcome(code)
        v = Verdict(*a["k6"])
        clients = {"curl": {"exit": 56 if flushed_alert == -1 else 35, "reason": a["python"][1]},
                   "python": {"error": "SSLError", "reason": a["python"][1]}}
    elif cert:
        code, text = k6_cert_error(cert, host, leaf)
        c = CERT_OUTCOMES[cert]
        v = Verdict(code, text)
        if code == 0:
            v.note = "k6 (Go) accepts this certificate; this client rejected it"
            v.certainty = "likely"
        clients = {"curl": {"exit": c[2], "reason": c[3].format(host=host)},
                   "python": {"error": c[4], "reason": c[5].format(host=host)}}
    else:
        v = Verdict(1000, "EOF", certainty="uncertain",
                    note=f"the handshake failed without an alert mitmproxy could flush: {error}")
    v.facts = {**facts, "clients": clients}
    return v
