"""curl 7.88 (OpenSSL 3, nghttp2): its exit code and the text it prints, as
measured in ``tests/e2e`` (test_core_modes_and_clients, test_k6_h2_frames,
test_tls_faults). ``error`` is the exit code of plain ``curl -sS``; where a
flag changes it, ``extra`` says so (``fail_exit``: with ``--fail``)."""

from __future__ import annotations

from faults import catalog
from faults.classify.clients.python import CERT_REASONS, alert_reason
from faults.classify.outcome import ClientReport, Event, Outcome

NAME = "curl"
CURL_CERT = {
    "untrusted": "self-signed certificate in certificate chain",
    "self_signed": "self-signed certificate",
    "incomplete_chain": "unable to get local issuer certificate",
    "wrong_host": "no alternative certificate subject name matches target host name '{host}'",
    "expired": "certificate has expired",
    "not_yet_valid": "certificate is not yet valid",
    "weak_key": "EE certificate key too weak",
    "sha1": "CA signature digest algorithm too weak",
}
assert CURL_CERT.keys() == CERT_REASONS.keys()


def curl(exit_code: int, message: str = "", **kw) -> ClientReport:
    return ClientReport(NAME, exit_code, message, **kw)


def _status(status: int) -> ClientReport:
    r = curl(0, "")
    if status >= 400:
        r.extra["fail_exit"] = 22  # with --fail: "The requested URL returned error: N"
    return r


def report(o: Outcome) -> ClientReport | None:
    f, ev = o.facts, o.event
    if o.h3:
        return _h3(o, f, ev)
    h2 = o.h2
    if ev == Event.H2_FALLBACK or (ev == Event.TCP_RST and not h2):  # curl over HTTP/2 on an RST: not measured
        return curl(56, "Recv failure: Connection reset by peer")
    if ev == Event.TCP_FIN and not h2:
        if o.phase in ("before_response", "mid_request"):
            return curl(52, "Empty reply from server")
        return curl(18, "transfer closed")
    if ev == Event.HTTP_SHORT_BODY and not h2:
        return curl(18, "transfer closed")
    if ev == Event.HTTP_UNDECODABLE:
        return curl(61, "Error while processing content unencoding",
                    note="with --compressed; without it curl does not decode and exits 0")
    if ev in (Event.HTTP_RESPONSE, Event.GRPC_STATUS):
        return _status(f.get("status", 200))
    if ev == Event.UPSTREAM_FAILED:
        return _status(502)
    if ev == Event.CLIENT_GAVE_UP:
        return curl(28, "timed out", certainty="likely", note="when curl's own -m/--max-time fired")
    if ev == Event.H2_RST_STREAM:
        code = f["code"]
        if code == 0x7:  # REFUSED_STREAM: curl takes it for "try again on a new connection"
            if o.before_response or o.phase == "mid_request":  # nothing received yet
                return curl(56, "Connection died, tried 5 times before giving up", retried=5,
                            note="curl re-sends a refused stream (body included) on a new connection, 5 times at most: "
                                 "if a re-send gets through it exits 0")
            return curl(56, "Failure when receiving data from the peer",
                        note="a refused stream after the response began: no re-send")
        name = catalog.h2_name(code) if catalog.tables.h2_known(code) else "unknown"
        return curl(92, f"{name} (err {code})")
    if ev == Event.H2_GOAWAY:
        if o.goaway_spared:
            return curl(0, "")
        if o.goaway_covers:
            return curl(18, "not closed cleanly before end of the underlying stream")
        return None  # not measured
    if ev == Event.H2_VIOLATION:
        v = f["violation"]
        if v == "data_on_idle_stream":
            return curl(52, "", note="curl reports the close that follows the violation").also(55).also(56)
        if v == "bad_hpack":
            return curl(52, "", note="curl reports the close that follows the violation").also(55)
        if v == "window_overflow":
            return curl(18, "").also(56)
        return None  # oversized_frame: curl allows 2^24-1, so it cannot be made
    if ev == Event.TLS_ALERT:
        return curl(56 if f.get("encrypted") else 35, alert_reason(f["alert"]))
    if ev == Event.TLS_PLAINTEXT:
        return curl(35, "wrong version number")
    if ev == Event.TLS_RST:
        return curl(35, "Connection reset by peer")
    if ev == Event.TLS_FIN:
        return curl(35, "SSL_ERROR_SYSCALL")
    if ev in (Event.TLS_STALL, Event.TLS_STALL_RELEASED):
        return curl(28, "timed out")
    if ev == Event.TLS_BAD_CERT:
        return curl(60, CURL_CERT[f["cert"]].format(host=f.get("host", "")))
    if ev in (Event.DNS_NO_SUCH_HOST, Event.DNS_ERROR, Event.DNS_DROP):  # glibc's resolver, any failure
        return curl(6, f"Could not resolve host: {f['name']}")
    if ev == Event.DIAL_REFUSED:
        return curl(7, "Couldn't connect to server")
    if ev == Event.DIAL_BLACKHOLE:
        return curl(28, "Connection timed out", certainty="likely", note="when -m/--connect-timeout fired")
    return None


# -- HTTP/3: libcurl 8.23 with ngtcp2 1.20 / nghttp3 1.15 (the curl_cffi package), measured
# in tests/e2e/test_http3.py and docs/http3.md
REJECTED = 0x10B  # H3_REQUEST_REJECTED: curl re-sends the request (5 times) before giving up
DIED = "Connection died, tried 5 times before giving up"


def _h3(o: Outcome, f: dict, ev: str) -> ClientReport | None:
    err = o.h3_error
    if ev == Event.H3_RESET_STREAM:
        code, sid = err["value"], f.get("stream_id")
        if code == REJECTED:
            return curl(56, DIED, retried=5, note="curl re-sends a request rejected with H3_REQUEST_REJECTED; "
                                                  "this is what it says when every attempt meets the fault")
        if code == 0x100 and o.phase == "mid_body":
            return curl(18, "end of response with N bytes missing")
        name = err["name"].removeprefix("H3_")
        return curl(95, f"HTTP/3 stream {sid} reset by server (error 0x{code:x} {name})")
    if ev == Event.H3_GOAWAY:
        if o.drains:
            return curl(0, "") if o.goaway_covers else curl(56, DIED, retried=5,
                                                              note="a stream the GOAWAY excluded is rejected; curl re-sends it")
        return curl(56, "ngtcp2_conn_writev_stream returned error: ERR_DRAINING").also(
            55, "ngtcp2_conn_writev_stream returned error: ERR_DRAINING")
    if ev in (Event.H3_CONNECTION_CLOSE, Event.H3_PROXY_CLOSE):  # a server's CONNECTION_CLOSE, by a fault or not
        r = curl(56, "ngtcp2_conn_writev_stream returned error: ERR_DRAINING").also(
            55, "ngtcp2_conn_writev_stream returned error: ERR_DRAINING")
        if f.get("collateral_of") or ev == Event.H3_PROXY_CLOSE:
            # a sibling (every stream is one when no fault chose it): measured both ways, failed (55)
            # or re-sent on a new connection
            r.also(0, "", retried=1, note="curl re-sent this request on a new connection")
        return r
    if ev == Event.H3_CLIENT_CLOSE:  # curl closed the connection itself (a short body on another stream)
        return curl(0, "", retried=1, certainty="likely",
                    note="curl closed the connection itself and re-sent this request on a new one")
    if ev == Event.HTTP_SHORT_BODY:
        return curl(56, "ngtcp2_conn_writev_stream returned error: ERR_CLOSING",
                    note="curl closes the connection itself on a short HTTP/3 body")
    if ev == Event.HTTP_UNDECODABLE:
        return curl(61, "Error while processing content unencoding")
    if ev in (Event.HTTP_RESPONSE, Event.GRPC_STATUS):
        return _status(f.get("status", 200))
    if ev == Event.UPSTREAM_FAILED:
        return _status(502)
    if ev == Event.CLIENT_GAVE_UP:
        return curl(28, "Operation timed out", certainty="likely", note="when curl's own timeout fired")
    if ev == Event.QUIC_NO_HANDSHAKE:  # quic_datagrams drop=1: the handshake never completes
        return curl(28, "Connection timed out after N milliseconds",
                    note="curl's own connect timeout (its total timeout when smaller)")
    if ev == Event.QUIC_SILENCE:  # quic_datagrams drop=1 when=established: nothing comes back
        return curl(28, "Operation timed out after N milliseconds with 0 bytes received", note="curl's own timeout")
    if ev in (Event.TLS_ALERT, Event.QUIC_HANDSHAKE_CLOSE):  # alpn=no_h3, handshake=alert|close: a failed connect
        return curl(7, "Failed to connect to HOST:PORT after N ms: Could not connect to server")
    if ev == Event.TLS_BAD_CERT:  # BoringSSL's verify result; measured: expired, untrusted
        cert = f["cert"]
        if cert == "wrong_host":
            return curl(60, "SSL: no alternative certificate subject name matches target "
                            f"{'IPv4 address' if f.get('host', '').replace('.', '').isdigit() else 'host name'} "
                            f"'{f.get('host', '')}'")
        code, text = H3_VERIFY.get(cert, (None, CURL_CERT[cert]))
        return curl(60, f"SSL certificate OpenSSL verify result: {text}" + (f" ({code})" if code else ""),
                    certainty="exact" if cert in ("expired", "untrusted", "self_signed") else "likely")
    return None


H3_VERIFY = {"expired": (10, "certificate has expired"), "untrusted": (19, "self signed certificate in certificate chain"),
             "not_yet_valid": (9, "certificate is not yet valid"), "self_signed": (18, "self signed certificate"),
             "incomplete_chain": (20, "unable to get local issuer certificate")}
