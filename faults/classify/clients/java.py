"""Java 17's java.net.http.HttpClient: the exception ``client.send(...)`` throws, as
measured in ``tests/e2e/test_client_matrix.py``. ``error`` is the exception's simple
class name (``IOException``, ``SSLHandshakeException``, ...) or ``"ok"`` with the
``status``. Over TLS it offers h2 first, so it speaks HTTP/2 through the proxy.

What it hides: on HTTP/1.1 it silently re-sends a GET whose connection ended before
any response byte (``retried``: 1), also a TLS handshake cut by a FIN; it never
decodes gzip (``bad_gzip``: 200 with the raw body); an HTTP/2 stream that ends short
of its Content-Length is 200 with the short body; it accepts SHA-1 and RSA-1024."""

from __future__ import annotations

from faults.catalog.tables import TLS_ALERT_NAMES
from faults.classify.outcome import ClientReport, Event, Outcome

NAME = "java"
RST_TEXT = {0x2: "Internal error", 0x7: "Stream not processed", 0x8: "Stream cancelled"}  # measured codes
CERT = {
    "untrusted": ("SSLHandshakeException", "PKIX path building failed"),
    "self_signed": ("SSLHandshakeException", "PKIX path building failed"),
    "incomplete_chain": ("SSLHandshakeException", "PKIX path building failed"),
    "expired": ("SSLHandshakeException", "PKIX path validation failed"),
    "not_yet_valid": ("SSLHandshakeException", "PKIX path validation failed"),
    "wrong_host": ("SSLHandshakeException", "No subject alternative DNS name matching"),
    "sha1": ("ok", ""),  # Java 17 still accepts a SHA-1 signed leaf
    "weak_key": ("ok", ""),  # and RSA-1024
}


def jv(error: str, message: str = "", **kw) -> ClientReport:
    return ClientReport(NAME, error, message, **kw)


def _ok(status, **kw) -> ClientReport:
    return jv("ok", extra={"status": status}, **kw)


def report(o: Outcome) -> ClientReport | None:
    f, ev = o.facts, o.event
    if ev == Event.GRPC_STATUS:
        return None
    h2, before = o.h2, o.before_response
    if ev in (Event.TCP_RST, Event.TCP_FIN) and not h2:
        if before:
            retried = 1 if f.get("method") == "GET" else 0  # measured with GET
            return jv("IOException", "HTTP/1.1 header parser received no bytes", retried=retried)
        return jv("IOException", "fixed content-length")
    if ev == Event.TCP_RST:
        return jv("IOException", "Connection reset")
    if ev == Event.TCP_FIN:
        if o.short_body:
            # the stream ended (END_STREAM) short of its Content-Length before the FIN: Java does not check
            return _ok(200, note="HTTP/2: 200 with the short body, no error")
        return jv("IOException", "EOF reached while reading")
    if ev == Event.HTTP_UNDECODABLE:
        return _ok(f.get("status", 200), note="HttpClient never decodes Content-Encoding: the raw body")
    if ev in (Event.HTTP_RESPONSE, Event.UPSTREAM_FAILED):
        return _ok(f.get("status", 502))
    if ev in (Event.CLIENT_GAVE_UP, Event.HTTP_INFORMATIONAL):
        return jv("HttpTimeoutException", "request timed out", certainty="likely",
                  note="when the request's own timeout() fired")
    if ev == Event.H2_RST_STREAM:
        text = RST_TEXT.get(f["code"])
        return jv("IOException", f"Received RST_STREAM: {text}" if text else "Received RST_STREAM",
                  certainty="exact" if text else "likely")
    if ev == Event.H2_GOAWAY:
        if o.phase == "after_response":
            return _ok(200)
        # even a draining GOAWAY covering the stream fails it; a refused stream is not retried
        return jv("IOException", "GOAWAY received")
    if ev == Event.H2_VIOLATION:
        if f["violation"] == "window_overflow":
            # the proxy's close races Java's read: a reset or an EOF (both seen in full runs)
            return jv("IOException", "Connection reset").also("IOException", "EOF reached while reading")
        return jv("ProtocolException", "protocol error")
    if ev == Event.TLS_BAD_CERT:
        err, text = CERT[f["cert"]]
        if err == "ok":
            return _ok(200, certainty="likely", note="Java accepts this certificate; the client that saw it did not")
        return jv(err, text)
    if ev == Event.TLS_ALERT:
        return jv("SSLHandshakeException", f"Received fatal alert: {TLS_ALERT_NAMES.get(f['alert'], f['alert'])}")
    if ev == Event.TLS_PLAINTEXT:
        return jv("SSLException", "Unrecognized SSL message, plaintext connection?")
    if ev == Event.TLS_RST:
        return jv("SSLHandshakeException", "Remote host terminated the handshake")
    if ev == Event.TLS_FIN:
        return jv("SSLHandshakeException", "Remote host terminated the handshake", retried=1)
    if ev == Event.TLS_STALL:
        return jv("HttpConnectTimeoutException", "HTTP connect timed out", certainty="likely",
                  note="when the request's own timeout() fired")
    return None  # not measured
