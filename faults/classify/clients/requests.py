"""requests 2.x (urllib3 2, http.client): the exception ``requests.get(...)`` raises,
as measured in ``tests/e2e/test_client_matrix.py``. ``error`` is the class users catch
(``ConnectionError``, ``ChunkedEncodingError``, ...) or ``"ok"`` with the ``status``;
``message`` a part of its text. HTTP/1.1 only (requests has no HTTP/2). Without a
``Retry`` configured, requests re-sends nothing."""

from __future__ import annotations

from faults.classify.clients.python import CERT_REASONS, alert_reason
from faults.classify.outcome import ClientReport, Event, Outcome

NAME = "requests"


def rq(error: str, message: str = "", **kw) -> ClientReport:
    return ClientReport(NAME, error, message, **kw)


def report(o: Outcome) -> ClientReport | None:
    f, ev = o.facts, o.event
    if o.involves_h2 or ev == Event.GRPC_STATUS:
        return None
    before = o.before_response
    if ev == Event.TCP_RST:
        return rq("ConnectionError" if before else "ChunkedEncodingError", "Connection reset by peer")
    if ev == Event.TCP_FIN:
        if before:
            return rq("ConnectionError", "Remote end closed connection without response")
        return rq("ChunkedEncodingError", "IncompleteRead")
    if ev == Event.HTTP_UNDECODABLE and f.get("decode_problem") == "bad_magic":
        return rq("ContentDecodingError", "failed to decode it")
    if ev in (Event.HTTP_RESPONSE, Event.UPSTREAM_FAILED):
        return rq("ok", extra={"status": f.get("status", 502)})
    if ev == Event.HTTP_INFORMATIONAL:
        # http.client takes a 1xx other than 100 for the final response: no error, no body
        return rq("ok", extra={"status": f.get("status")},
                  note="requests returns the 1xx as if it were the final response (empty body)")
    if ev in (Event.CLIENT_GAVE_UP, Event.TLS_STALL):
        return rq("ReadTimeout", "Read timed out", certainty="likely", note="when requests' own timeout= fired")
    if ev == Event.TLS_BAD_CERT:
        return rq("SSLError", CERT_REASONS[f["cert"]].format(host=f.get("host", "")))
    if ev == Event.TLS_ALERT:
        return rq("SSLError", alert_reason(f["alert"]))
    if ev == Event.TLS_PLAINTEXT:
        return rq("SSLError", "wrong version number")
    if ev == Event.TLS_RST:
        return rq("ConnectionError", "Connection reset by peer")
    if ev == Event.TLS_FIN:
        return rq("SSLError", "EOF occurred in violation of protocol")
    return None  # not measured
