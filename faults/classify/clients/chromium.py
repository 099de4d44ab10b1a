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
handshakes (``retried``: the count varies run to run, preconnects race; at least
one); an HTTP/2 stream that ends short of its Content-Length loads as 200."""

from __future__ import annotations

from faults.classify.outcome import ClientReport, Event, Outcome

NAME = "chromium"
CERT = {
    "untrusted": "net::ERR_CERT_AUTHORITY_INVALID", "self_signed": "net::ERR_CERT_AUTHORITY_INVALID",
    "incomplete_chain": "net::ERR_CERT_AUTHORITY_INVALID", "wrong_host": "net::ERR_CERT_COMMON_NAME_INVALID",
    "expired": "net::ERR_CERT_DATE_INVALID", "not_yet_valid": "net::ERR_CERT_DATE_INVALID",
    "sha1": "net::ERR_CERT_INVALID",
}
RETRIES_NOTE = ("Chromium re-sends silently; the count varies run to run (preconnects race): retried is the "
                "count seen most, retried_range the fewest and most measured")


def cr(error: str, **kw) -> ClientReport:
    return ClientReport(NAME, error, error if error.startswith("net::") else "", **kw)


def _resent(error: str, n: int, lo: int | None = None, hi: int | None = None) -> ClientReport:
    """The error is exact, the re-send count is not: ``n`` is the count seen most,
    ``retried_range`` [fewest, most] measured (alone and in full client-matrix runs;
    tests/e2e/clientmatrix.py checks the count against it)."""
    r = cr(error, retried=n, certainty="likely", note=RETRIES_NOTE)
    r.extra["retried_range"] = [n if lo is None else lo, n if hi is None else hi]
    return r


FETCH_FAILED = "TypeError: Failed to fetch"


def report(o: Outcome) -> ClientReport | None:
    if o.facts.get("protocol") == "HTTP/3":
        return _h3(o)
    r = _navigation(o)
    if r is not None and not o.event.startswith("tls."):
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
    h2 = str(f.get("protocol", "")).startswith("HTTP/2")
    before = f.get("phase", "before_response") == "before_response"
    if h2 and f.get("reused_connection") and before and ev in (Event.TCP_RST, Event.TCP_FIN):
        # a reused HTTP/2 connection that ends before any response byte: re-sent on a new one
        # (measured: a page script's fetch() on its page's connection)
        return _resent("net::ERR_CONNECTION_RESET" if ev == Event.TCP_RST else "net::ERR_CONNECTION_CLOSED", 2)
    if ev == Event.TCP_RST:
        # fewest re-sends 0: seen once under load (load average 11) in tests/e2e/test_client_races.py
        return _resent("net::ERR_CONNECTION_RESET", 2, 0) if before and not h2 else cr("net::ERR_CONNECTION_RESET")
    if ev == Event.TCP_FIN:
        if h2:
            if (f.get("body_sent") or 0) < (f.get("body_announced") or 0):
                return cr("ok", extra={"status": 200}, note="HTTP/2: the short body loads as 200, no error")
            return cr("net::ERR_CONNECTION_CLOSED")
        return _resent("net::ERR_EMPTY_RESPONSE", 2, 1) if before else cr("net::ERR_CONTENT_LENGTH_MISMATCH")
    if ev == Event.HTTP_UNDECODABLE:
        return cr("net::ERR_CONTENT_DECODING_FAILED")
    if ev in (Event.HTTP_RESPONSE, Event.UPSTREAM_FAILED):
        status = f.get("status", 502)
        if status >= 400 and not f.get("body_size"):  # an error status with no body: Chromium's own error page
            return cr("net::ERR_HTTP_RESPONSE_CODE_FAILURE")
        return cr("ok", extra={"status": status})
    if ev in (Event.CLIENT_GAVE_UP, Event.HTTP_INFORMATIONAL):
        # the page's own timeout ends the wait; when the navigation is stopped by it, DevTools
        # names the request's end net::ERR_ABORTED (a race with the driver's read of it)
        return cr("timeout", note="Chromium keeps waiting; the page's own timeout ended it (DevTools may "
                                  "report that abort as net::ERR_ABORTED)").also("net::ERR_ABORTED", "net::ERR_ABORTED")
    if ev == Event.TLS_STALL:  # a second connection stalls too
        return cr("timeout", certainty="likely", retried=1, note="Chromium keeps waiting; the page's own timeout ended it")
    if ev == Event.H2_RST_STREAM:
        if f["code"] == 0x7 and before:
            return _resent("net::ERR_HTTP2_SERVER_REFUSED_STREAM", 2)
        return cr("net::ERR_HTTP2_PROTOCOL_ERROR") if f["code"] in (0x2, 0x8) else None  # codes measured
    if ev == Event.H2_GOAWAY:
        sid, last = f.get("stream_id") or 1, f.get("last_stream", 0)
        if f.get("phase") == "after_response" or (f.get("then") == "drain" and sid <= last):
            return cr("ok", extra={"status": 200})
        if sid > last and before:
            return _resent("net::ERR_HTTP2_SERVER_REFUSED_STREAM", 2)
        return cr("net::ERR_CONNECTION_CLOSED") if f.get("then") == "close" and before else None
    if ev == Event.H2_VIOLATION:
        return {"data_on_idle_stream": cr("net::ERR_CONNECTION_CLOSED"),
                "bad_hpack": cr("net::ERR_HTTP2_COMPRESSION_ERROR"),
                "oversized_frame": cr("net::ERR_ABORTED"), "window_overflow": cr("net::ERR_ABORTED")}[f["violation"]]
    if ev == Event.TLS_BAD_CERT:
        if f["cert"] == "weak_key":
            # Chromium accepts RSA-1024 from a locally trusted CA: the page loads. It also opens a
            # second (preconnected) connection that it closes unused after the handshake, which
            # the proxy records as "client closed after the handshake without a request"
            return cr("ok", extra={"status": 200}, certainty="likely",
                      note="Chromium accepts this certificate; an unused preconnect closes after its handshake")
        return _resent(CERT[f["cert"]], 1, 1, 2)
    if ev == Event.TLS_ALERT:
        if f.get("encrypted"):  # TLS 1.3 CertificateRequest: Chromium has no client certificate to send
            return _resent("net::ERR_BAD_SSL_CLIENT_AUTH_CERT", 2)
        return _resent("net::ERR_SSL_VERSION_OR_CIPHER_MISMATCH", 3, 3, 7)
    if ev == Event.TLS_PLAINTEXT:
        return _resent("net::ERR_SSL_PROTOCOL_ERROR", 3, 3, 7)
    if ev == Event.TLS_RST:
        return _resent("net::ERR_CONNECTION_RESET", 3, 1, 7)
    if ev == Event.TLS_FIN:
        return _resent("net::ERR_CONNECTION_CLOSED", 3, 3, 7)
    return None  # not measured


# -- HTTP/3: forced with --origin-to-force-quic-on=HOST:PORT; the proxy's CA trusted through
# the NSS database in $HOME as over TCP (no --ignore-certificate-errors-spki-list, which would
# hide the certificate faults). Measured in tests/e2e/test_http3.py and docs/http3.md.
QUIC_ERROR = "net::ERR_QUIC_PROTOCOL_ERROR"


def _h3(o: Outcome) -> ClientReport | None:
    f, ev = o.facts, o.event
    err = f.get("h3_error") or {}
    if ev == Event.H3_RESET_STREAM:
        if f.get("phase") == "mid_request":
            return None  # not measured: the driver navigates (no upload)
        if err.get("value") == 0x100 and f.get("phase") == "mid_body":  # H3_NO_ERROR mid-body: it waits
            return cr("timeout", note="the page's own timeout ends it")
        return cr(QUIC_ERROR)
    if ev == Event.H3_GOAWAY:
        if f.get("then") == "drain":
            return cr("ok", extra={"status": 200}) if f.get("covered") else cr("net::ERR_QUIC_GOAWAY_REQUEST_CAN_BE_RETRIED")
        return cr(QUIC_ERROR)
    if ev == Event.H3_CONNECTION_CLOSE:
        return cr(QUIC_ERROR)
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
    return None
