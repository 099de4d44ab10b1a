"""aioquic 1.2's HTTP/3 client (``aioquic.h3.connection.H3Connection`` over
``aioquic.asyncio.connect``, as its examples' ``http3_client`` drives it): the QUIC or
HTTP/3 event its user gets, as measured in ``tests/e2e/test_http3.py``.

``error`` is the event class (``StreamReset``, ``ConnectionTerminated``) or ``timeout``
(the caller's own wait); ``extra`` holds the codes. A short body is no event of its own:
aioquic closes the whole connection itself with H3_MESSAGE_ERROR.
"""

from __future__ import annotations

from faults.classify.outcome import ClientReport, Event, Outcome

NAME = "aioquic"
H3_MESSAGE_ERROR = 0x10E


def aioquic(error, message: str = "", **kw) -> ClientReport:
    return ClientReport(NAME, error, message, **kw)


def report(o: Outcome) -> ClientReport | None:
    f, ev = o.facts, o.event
    err = o.h3_error
    if ev == Event.H3_RESET_STREAM or (ev == Event.H3_GOAWAY and not o.goaway_covers and o.drains):
        code = err.get("value", 0x10B) if ev == Event.H3_RESET_STREAM else 0x10B  # H3_REQUEST_REJECTED
        if f.get("stop_sending") and o.phase == "mid_request":  # still sending: STOP_SENDING comes first
            return aioquic("StopSendingReceived", f"StopSendingReceived error_code=0x{code:x}",
                           extra={"error_code": code})
        return aioquic("StreamReset", f"StreamReset error_code=0x{code:x}", extra={"error_code": code})
    if ev in (Event.H3_CONNECTION_CLOSE, Event.H3_GOAWAY):
        if ev == Event.H3_GOAWAY and o.drains:
            return aioquic(0, "")
        transport = err.get("space") == "transport"
        return aioquic("ConnectionTerminated", f"ConnectionTerminated error_code=0x{err.get('value', 0):x}",
                       extra={"error_code": err.get("value", 0), "frame_type": 0 if transport else None})
    if ev == Event.H3_PROXY_CLOSE:  # a server's CONNECTION_CLOSE, as for quic_close: the frame type as sent
        return aioquic("ConnectionTerminated", f"ConnectionTerminated error_code=0x{err.get('value', 0):x}",
                       extra={"error_code": err.get("value", 0), "frame_type": (f.get("h3_proxy_close") or {}).get("frame_type")})
    if ev == Event.H3_CLIENT_CLOSE:  # its own close (a short body on a sibling stream): every open stream ends with it
        return aioquic("ConnectionTerminated", f"ConnectionTerminated error_code=0x{err.get('value', 0):x}",
                       note="aioquic closed the connection itself", extra={"error_code": err.get("value", 0),
                                                                          "frame_type": None})
    if ev == Event.HTTP_SHORT_BODY:
        return aioquic("ConnectionTerminated", "content-length does not match data size",
                       note="aioquic closes the whole connection itself (H3_MESSAGE_ERROR)",
                       extra={"error_code": H3_MESSAGE_ERROR, "frame_type": None})
    if ev in (Event.HTTP_RESPONSE, Event.GRPC_STATUS, Event.HTTP_UNDECODABLE):
        return aioquic(0, "", note="aioquic does not decode bodies" if ev == Event.HTTP_UNDECODABLE else "")
    if ev == Event.UPSTREAM_FAILED:
        return aioquic(0, "", extra={"status": 502})
    if ev == Event.QUIC_NO_HANDSHAKE:
        return aioquic("ConnectionError", "connect() gave up: no handshake within its idle timeout")
    if ev == Event.QUIC_SILENCE:  # its idle timeout closes the connection locally, or the caller's wait ends first
        return aioquic("ConnectionTerminated", "Idle timeout", note="aioquic's own idle timeout, as a local close",
                       extra={"error_code": 0x1, "frame_type": 0}).also("timeout", "the caller's own wait ran out")
    if ev == Event.TLS_ALERT:  # tls alpn=no_h3 (the server's TLS refuses), handshake=alert: connect() raises
        code = 0x100 + f["alert"]
        return aioquic("ConnectionError", f"CRYPTO_ERROR 0x{code:x} ({f.get('flushed_alert') or 'no_application_protocol'})",
                       note="connect() raises a bare ConnectionError; aioquic logs the close's code",
                       extra={"error_code": code})
    if ev == Event.QUIC_HANDSHAKE_CLOSE:  # tls handshake=close: CONNECTION_CLOSE NO_ERROR in answer to the ClientHello
        return aioquic("ConnectionError", "CONNECTION_CLOSE NO_ERROR during the handshake", extra={"error_code": 0})
    if ev == Event.TLS_BAD_CERT:  # aioquic's connect() raises; its CONNECTION_CLOSE carries the alert
        alert = 45 if f["cert"] in ("expired", "not_yet_valid") else 42  # certificate_expired / bad_certificate
        return aioquic("ConnectionError", f"CRYPTO_ERROR 0x{0x100 + alert:x} (TLS alert {alert})",
                       certainty="exact" if f["cert"] in ("expired", "untrusted", "self_signed", "wrong_host") else "likely",
                       extra={"error_code": 0x100 + alert})
    if ev == Event.CLIENT_GAVE_UP:
        return aioquic("timeout", "the caller's own wait ran out", certainty="likely")
    return None
