"""aiohttp 3.x: the exception ``session.get(...)`` / ``resp.read()`` raises, as measured
in ``tests/e2e/test_client_matrix.py``. ``error`` is the class users catch or ``"ok"``
with the ``status``. HTTP/1.1 only (aiohttp has no HTTP/2). aiohttp silently re-sends
an idempotent request once when the connection ends before any response byte
(``retried``: 1), also a TLS 1.3 connection whose alert came after the handshake."""

from __future__ import annotations

from faults.classify.clients.python import CERT_REASONS, alert_reason
from faults.classify.outcome import ClientReport, Outcome

NAME = "aiohttp"


def ah(error: str, message: str = "", **kw) -> ClientReport:
    return ClientReport(NAME, error, message, **kw)


def _retries(f: dict) -> int:
    return 1 if f.get("method", "GET") == "GET" else 0  # measured with GET


def report(o: Outcome) -> ClientReport | None:
    f, ev = o.facts, o.event
    if str(f.get("protocol", "")).startswith("HTTP/2") or ev.startswith("h2.") or ev == "grpc.status":
        return None
    before = f.get("phase", "before_response") == "before_response"
    if ev == "tcp.rst" and before:
        return ah("ClientOSError", "Connection reset by peer", retried=_retries(f))
    if ev == "tcp.fin" and before:
        return ah("ServerDisconnectedError", "Server disconnected", retried=_retries(f))
    if ev in ("tcp.rst", "tcp.fin"):
        return ah("ClientPayloadError", "Response payload is not completed")
    if ev == "http.undecodable" and f.get("decode_problem") == "bad_magic":
        return ah("ClientPayloadError", "Can not decode content-encoding: gzip")
    if ev in ("http.response", "upstream.failed"):
        return ah("ok", extra={"status": f.get("status", 502)})
    if ev in ("client.gave_up", "http.informational", "tls.stall"):
        return ah("TimeoutError", "", certainty="likely", note="when aiohttp's own ClientTimeout fired")
    if ev == "tls.bad_cert":
        return ah("ClientConnectorCertificateError", CERT_REASONS[f["cert"]].format(host=f.get("host", "")))
    if ev == "tls.alert":
        if f.get("encrypted"):  # TLS 1.3: the alert comes with the first read, after the request was sent
            return ah("ClientOSError", alert_reason(f["alert"]), retried=_retries(f))
        return ah("ClientConnectorSSLError", alert_reason(f["alert"]))
    if ev == "tls.plaintext":
        return ah("ClientConnectorSSLError", "wrong version number")
    if ev == "tls.rst":
        return ah("ClientConnectorError", "Connection reset by peer")
    if ev == "tls.fin":
        return ah("ClientConnectorError", "Cannot connect to host")
    return None  # not measured
