"""aiohttp 3.x: the exception ``session.get(...)`` / ``resp.read()`` raises, as measured
in ``tests/e2e/test_client_matrix.py``. ``error`` is the class users catch or ``"ok"``
with the ``status``. HTTP/1.1 only (aiohttp has no HTTP/2). aiohttp silently re-sends
an idempotent request once when the connection ends before any response byte
(``retried``: 1), also a TLS 1.3 connection whose alert came after the handshake."""

from __future__ import annotations

from faults.classify.clients.python import CERT_REASONS, alert_reason
from faults.classify.outcome import ClientReport, Event, Outcome

NAME = "aiohttp"


def ah(error: str, message: str = "", **kw) -> ClientReport:
    return ClientReport(NAME, error, message, **kw)


def _retries(f: dict) -> int:
    return 1 if f.get("method", "GET") == "GET" else 0  # measured with GET


def report(o: Outcome) -> ClientReport | None:
    f, ev = o.facts, o.event
    if o.involves_h2 or ev == Event.GRPC_STATUS:
        return None
    before = o.before_response
    if ev == Event.TCP_RST and before:
        return ah("ClientOSError", "Connection reset by peer", retried=_retries(f))
    if ev == Event.TCP_FIN and before:
        return ah("ServerDisconnectedError", "Server disconnected", retried=_retries(f))
    if ev in (Event.TCP_RST, Event.TCP_FIN):
        return ah("ClientPayloadError", "Response payload is not completed")
    if ev == Event.HTTP_UNDECODABLE and f.get("decode_problem") == "bad_magic":
        return ah("ClientPayloadError", "Can not decode content-encoding: gzip")
    if ev in (Event.HTTP_RESPONSE, Event.UPSTREAM_FAILED):
        return ah("ok", extra={"status": f.get("status", 502)})
    if ev in (Event.CLIENT_GAVE_UP, Event.HTTP_INFORMATIONAL, Event.TLS_STALL):
        return ah("TimeoutError", "", certainty="likely", note="when aiohttp's own ClientTimeout fired")
    if ev == Event.TLS_BAD_CERT:
        return ah("ClientConnectorCertificateError", CERT_REASONS[f["cert"]].format(host=f.get("host", "")))
    if ev == Event.TLS_ALERT:
        if f.get("encrypted"):  # TLS 1.3: the alert comes with the first read, after the request was sent
            return ah("ClientOSError", alert_reason(f["alert"]), retried=_retries(f))
        return ah("ClientConnectorSSLError", alert_reason(f["alert"]))
    if ev == Event.TLS_PLAINTEXT:
        return ah("ClientConnectorSSLError", "wrong version number")
    if ev == Event.TLS_RST:
        return ah("ClientConnectorError", "Connection reset by peer")
    if ev == Event.TLS_FIN:
        return ah("ClientConnectorError", "Cannot connect to host")
    return None  # not measured
