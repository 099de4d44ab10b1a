"""Chromium (Debian's chromium 156, headless): the ``net::ERR_...`` name DevTools
reports (``Network.loadingFailed``; what playwright's ``requestfailed`` gives) for a
top-level navigation, as measured in ``tests/e2e/test_client_matrix.py``. ``"ok"``:
the page loaded, with the status; ``"timeout"``: Chromium itself waits, the page's
own timeout ends it.

A page script's ``fetch()`` (measured too, HTTP/1.1 and HTTP/2) is the entry's ``fetch``:
``{"error", "message", "status"}``. DevTools names the same ``net::ERR_...``; the script
only sees ``TypeError: Failed to fetch`` (before the response and, as a rejected body read,
after it); an error status is no error for it (``ok 503``, where a navigation shows
Chromium's error page, ``net::ERR_HTTP_RESPONSE_CODE_FAILURE``); a hang never settles.

What it hides: it silently re-sends a request whose connection ended before any
response byte, a stream refused by REFUSED_STREAM or a GOAWAY, and re-tries failed
handshakes; an HTTP/2 stream that ends short of its Content-Length loads as 200.
Where the re-send count races (an unused preconnected socket counts as a proven one, so
whether a re-send happens depends on which socket the request got), ``retried`` is the
count seen most and each other count seen is an ``alt`` reading (``uncertain``): measured
with the e2e client matrix, 11 runs under load (``python -m tests.e2e.clientmatrix chromium``).

A request Chromium keeps waiting on (a hang, a lone 1xx, a stalled handshake) ends only
when the page gives up: ``timeout``; DevTools then names it ``net::ERR_ABORTED`` (the
page's own abort: a closed page, a stopped navigation, an AbortController), the
``alt`` reading."""

from __future__ import annotations

from faults.classify.outcome import ClientReport, Event, Outcome

NAME = "chromium"
CERT = {
    "untrusted": "net::ERR_CERT_AUTHORITY_INVALID", "self_signed": "net::ERR_CERT_AUTHORITY_INVALID",
    "incomplete_chain": "net::ERR_CERT_AUTHORITY_INVALID", "wrong_host": "net::ERR_CERT_COMMON_NAME_INVALID",
    "expired": "net::ERR_CERT_DATE_INVALID", "not_yet_valid": "net::ERR_CERT_DATE_INVALID",
    "sha1": "net::ERR_CERT_INVALID",
}
RETRIES_NOTE = "Chromium re-sends silently"
WAITS_NOTE = ("Chromium keeps waiting; the page's own timeout ended it (DevTools then shows net::ERR_ABORTED, "
              "the page's abort)")
# re-send counts seen (the first most often), by what ended the attempt
PROVEN_END = (2, 1, 0, 3)  # HTTP/1.1: the connection ended before the response (0 when no socket counted as
# proven; 3: a page script's fetch() once, in a full test-suite run on 2026-12-07)
REUSED_H2_END = (2, 1)  # HTTP/2: a reused connection ended before the response
REFUSED = (2,)  # REFUSED_STREAM, or a GOAWAY that left the stream unprocessed
BAD_CERT = (1, 2)
HANDSHAKE_END = (3, 5, 7)  # alert, plaintext, RST or FIN in the handshake (pairs: a preconnect each time)
HANDSHAKE_RST = (3, 5, 7, 1)  # a reset handshake: once re-sent only once (a full matrix run on main)
CLIENT_CERT = (2, 3)
H3_UPLOAD = (2,)  # HTTP/3: an upload cut by RESET_STREAM or CONNECTION_CLOSE (3 attempts each time)


def cr(error: str, **kw) -> ClientReport:
    return ClientReport(NAME, error, error if error.startswith("net::") else "", **kw)


def _resent(error: str, counts: tuple[int, ...]) -> ClientReport:
    """Re-sent silently, ``counts[0]`` times most often; every other count seen is a racing reading."""
    r = cr(error, retried=counts[0], note=RETRIES_NOTE + ("" if len(counts) == 1 else
                                                         f" ({' or '.join(map(str, sorted(counts)))} times seen: "
                                                         "preconnected sockets race)"))
    for n in counts[1:]:
        r.also(error, r.message, retried=n)
    return r


def _waits(**kw) -> ClientReport:
    return cr("timeout", certainty="likely", note=WAITS_NOTE, **kw).also("net::ERR_ABORTED", "net::ERR_ABORTED")


FETCH_FAILED = "TypeError: Failed to fetch"


def report(o: Outcome) -> ClientReport | None:
    if o.h3:
        return _h3(o)
    r = _navigation(o)
    if r is not None and o.family != "tls":
        r.extra["fetch"] = page_fetch(r, o.facts.get("status", 200))
    return r


def page_fetch(nav: ClientReport, status: int = 200) -> dict:
    """What a page script's fetch() gets, from the navigation's report (same network stack)."""
    if nav.error == "net::ERR_HTTP_RESPONSE_CODE_FAILURE" or nav.error == "ok":
        return {"error": "ok", "message": "", "status": nav.extra.get("status", status)}
    if nav.error == "timeout":
        return {"error": "timeout", "message": "", "note": "the fetch() promise never settles by itself",
                "alt": [{"error": "net::ERR_ABORTED", "message": ""}]}  # the page's own abort, as DevTools names it
    return {"error": nav.error, "message": FETCH_FAILED}


def _navigation(o: Outcome) -> ClientReport | None:
    f, ev = o.facts, o.event
    if ev == Event.GRPC_STATUS:
        return None
    h2, before = o.h2, o.before_response
    if h2 and o.reused and before and ev in (Event.TCP_RST, Event.TCP_FIN):
        # a reused HTTP/2 connection that ends before any response byte: re-sent on a new one
        # (measured: a page script's fetch() on its page's connection)
        return _resent("net::ERR_CONNECTION_RESET" if ev == Event.TCP_RST else "net::ERR_CONNECTION_CLOSED", REUSED_H2_END)
    if ev == Event.TCP_RST:
        return _resent("net::ERR_CONNECTION_RESET", PROVEN_END) if before and not h2 else cr("net::ERR_CONNECTION_RESET")
    if ev == Event.TCP_FIN:
        if h2:
            if o.short_body:
                return cr("ok", extra={"status": 200}, note="HTTP/2: the short body loads as 200, no error")
            return cr("net::ERR_CONNECTION_CLOSED")
        return _resent("net::ERR_EMPTY_RESPONSE", PROVEN_END) if before else cr("net::ERR_CONTENT_LENGTH_MISMATCH")
    if ev == Event.HTTP_UNDECODABLE:
        return cr("net::ERR_CONTENT_DECODING_FAILED")
    if ev in (Event.HTTP_RESPONSE, Event.UPSTREAM_FAILED):
        status = f.get("status", 502)
        if status >= 400 and not f.get("body_size"):  # an error status with no body: Chromium's own error page
            return cr("net::ERR_HTTP_RESPONSE_CODE_FAILURE")
        return cr("ok", extra={"status": status})
    if ev in (Event.CLIENT_GAVE_UP, Event.HTTP_INFORMATIONAL):
        return _waits()
    if ev == Event.TLS_STALL:  # a second connection stalls too
        return _waits(retried=1)
    if ev == Event.H2_RST_STREAM:
        if f["code"] == 0x7 and before:
            return _resent("net::ERR_HTTP2_SERVER_REFUSED_STREAM", REFUSED)
        return cr("net::ERR_HTTP2_PROTOCOL_ERROR") if f["code"] in (0x2, 0x8) else None  # codes measured
    if ev == Event.H2_GOAWAY:
        if o.goaway_spared:
            return cr("ok", extra={"status": 200})
        if not o.goaway_covers and before:
            return _resent("net::ERR_HTTP2_SERVER_REFUSED_STREAM", REFUSED)
        if f.get("then") == "close" and before:  # on a reused connection the request was proven: re-sent
            return _resent("net::ERR_CONNECTION_CLOSED", REUSED_H2_END) if o.reused \
                else cr("net::ERR_CONNECTION_CLOSED")
        return None
    if ev == Event.H2_VIOLATION:
        return {"data_on_idle_stream": cr("net::ERR_CONNECTION_CLOSED"),
                "bad_hpack": cr("net::ERR_HTTP2_COMPRESSION_ERROR"),
                # oversized_frame: Chromium named the frame's size once (a full test-suite run, 2026-12-07)
                "oversized_frame": cr("net::ERR_ABORTED").also("net::ERR_HTTP2_FRAME_SIZE_ERROR",
                                                               "net::ERR_HTTP2_FRAME_SIZE_ERROR"),
                "window_overflow": cr("net::ERR_ABORTED")}[f["violation"]]
    if ev == Event.TLS_BAD_CERT:
        if f["cert"] == "weak_key":
            # Chromium accepts RSA-1024 from a locally trusted CA: the page loads. It also opens a
            # second (preconnected) connection that it closes unused after the handshake, which
            # the proxy records as "client closed after the handshake without a request"
            return cr("ok", extra={"status": 200}, certainty="likely",
                      note="Chromium accepts this certificate; an unused preconnect closes after its handshake")
        return _resent(CERT[f["cert"]], BAD_CERT)
    if ev == Event.TLS_ALERT:
        if f.get("encrypted"):  # TLS 1.3 CertificateRequest: Chromium has no client certificate to send
            # once in about 20 full matrix runs Chromium named the socket instead (0 in 10 alone)
            return _resent("net::ERR_BAD_SSL_CLIENT_AUTH_CERT", CLIENT_CERT).also(
                "net::ERR_SOCKET_NOT_CONNECTED", "net::ERR_SOCKET_NOT_CONNECTED")
        return _resent("net::ERR_SSL_VERSION_OR_CIPHER_MISMATCH", HANDSHAKE_END)
    if ev == Event.TLS_PLAINTEXT:
        return _resent("net::ERR_SSL_PROTOCOL_ERROR", HANDSHAKE_END)
    if ev == Event.TLS_RST:
        return _resent("net::ERR_CONNECTION_RESET", HANDSHAKE_RST)
    if ev == Event.TLS_FIN:
        return _resent("net::ERR_CONNECTION_CLOSED", HANDSHAKE_END)
    return None  # not measured


# -- HTTP/3: forced with --origin-to-force-quic-on=HOST:PORT; the proxy's CA trusted through
# the NSS database in $HOME as over TCP (no --ignore-certificate-errors-spki-list, which would
# hide the certificate faults). Measured in tests/e2e/test_http3.py and docs/http3.md.
QUIC_ERROR = "net::ERR_QUIC_PROTOCOL_ERROR"


def _h3(o: Outcome) -> ClientReport | None:
    f, ev = o.facts, o.event
    err = o.h3_error
    if o.phase == "mid_request" and ev in (Event.H3_RESET_STREAM, Event.H3_CONNECTION_CLOSE, Event.H3_PROXY_CLOSE):
        # an upload (a page script's fetch() POST): measured with 3 attempts each, DevTools names the error
        r = _resent(QUIC_ERROR, H3_UPLOAD)
        r.extra["fetch"] = {"error": QUIC_ERROR, "message": FETCH_FAILED}
        return r
    if ev in (Event.TLS_BAD_CERT, Event.TLS_ALERT, Event.QUIC_HANDSHAKE_CLOSE):
        # any failed QUIC handshake, certificate faults included: no net::ERR_CERT_... over QUIC
        return cr(QUIC_ERROR, note="Chromium 156 forced onto QUIC names every failed QUIC handshake so, "
                                   "a bad certificate too")
    if ev == Event.H3_RESET_STREAM:
        if err.get("value") == 0x100 and o.phase == "mid_body":  # H3_NO_ERROR mid-body: it waits
            return cr("timeout", note="the page's own timeout ends it")
        return cr(QUIC_ERROR)
    if ev == Event.H3_GOAWAY:
        if o.drains:
            return cr("ok", extra={"status": 200}) if o.goaway_covers else cr("net::ERR_QUIC_GOAWAY_REQUEST_CAN_BE_RETRIED")
        return cr(QUIC_ERROR)
    if ev == Event.H3_CONNECTION_CLOSE:
        return cr(QUIC_ERROR)
    if ev == Event.H3_PROXY_CLOSE:  # a server's CONNECTION_CLOSE no fault chose: as quic_close, or a GET re-sent
        return cr(QUIC_ERROR).also("ok", retried=1, note="the one loaded run that recorded Chromium closing a "
                                   "connection itself (PROTOCOL_VIOLATION, a GET in flight, re-sent and loaded) was "
                                   "most likely mitmproxy's own 'stream already ended' close, then blamed on the client")
    if ev in (Event.HTTP_RESPONSE, Event.GRPC_STATUS):
        status = f.get("status", 200)
        return cr("net::ERR_HTTP_RESPONSE_CODE_FAILURE", extra={"status": status}) if status >= 400 \
            else cr("ok", extra={"status": status})
    if ev == Event.HTTP_SHORT_BODY:  # a stream that ends short of its Content-Length loads, as on HTTP/2
        return cr("ok", extra={"status": f.get("status", 200)})
    if ev == Event.HTTP_UNDECODABLE:
        return cr("timeout", certainty="likely", note="measured: the navigation never settled (Chromium 156)")
    if ev == Event.CLIENT_GAVE_UP:
        return cr("timeout")
    if ev == Event.H3_CLIENT_CLOSE:  # seen once in 13 loaded runs of test_http3.py (PROTOCOL_VIOLATION, a plain GET)
        return cr("ok", retried=1, certainty="likely",
                  note="Chromium closed the QUIC connection itself and re-sent this request on a new one")
    return None
