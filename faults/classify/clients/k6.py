"""k6 1.1.0 (Go's net/http and x/net/http2): what ``error_code`` and ``error`` it reports.

The codes are the ones the real k6 reported in ``tests/e2e`` (docs/faults.md's tables);
where k6's docs differ, k6 wins. k6's formula for HTTP/2 errors: GOAWAY
1610+code+1, stream error 1630+code+1, connection error 1650+code+1 for codes
<= 0xd, else the bare base.

Retries decide whether a code is seen at all:
- Go's HTTP/1 transport retries, on a new connection, a request that failed
  before any response byte on a reused keep-alive connection, when it is
  replayable (GET/HEAD/OPTIONS/TRACE without a body);
- Go's HTTP/2 transport retries (up to 7 times, back-offs 0, 1, 2, 4, 8, 16,
  32 s) a RST_STREAM REFUSED_STREAM or PROTOCOL_ERROR before the response
  headers, and a stream a GOAWAY left unprocessed (above last_stream_id),
  except stream 1 with a code other than NO_ERROR, which fails at once.
A fault that fires on every attempt therefore ends in k6's own timeout: 1050.

A race the proxy cannot see through (named for every HTTP/2 profile by
``faults.classify.clients.own_timeout_race``): a stream held by its own fault (``hang``)
that another request's fault ends with its connection (``reset``: 1220) just as k6's
timeout for it fires (1050). k6 cancels the held stream (RST_STREAM CANCEL) when its
timeout fires; that cancel can still be in flight when the proxy ends the connection, or Go
may write it after its next request, whose fault then ends the connection first. The
proxy sees the end before any cancel either way: the record is ``uncertain`` and names
both (``tests/e2e/test_k6_held_race.py``: k6 said 1050 while the proxy saw the reset first
4 times in 48 sends around the timeout; sent well before it, k6 says 1220). The request
whose reset cut the held stream races too (``Outcome.cut_held_sibling``): Go's cancel of the
held stream fails to write on the reset socket and Go closes the connection, failing that
request with ``FORCE_CLOSED`` (1000) instead of 1220.
"""

from __future__ import annotations

import datetime

from faults import catalog
from faults.classify.outcome import ClientReport, Event, Outcome

NAME = "k6"
GO_REPLAYABLE = {"GET", "HEAD", "OPTIONS", "TRACE"}
TIMEOUT = (1050, "request timeout", "client.timeout.request")
# the reset cut a stream the proxy held as k6's timeout for it fired: Go writes the held stream's
# cancel (RST_STREAM) into the reset connection, the write fails, and Go closes the connection
# (x/net/http2 cleanupWriteRequest: ``if werr != nil { cc.Close() }``) before its reader reports
# the reset: this request then fails with that close (measured: tests/e2e/test_k6_held_race.py)
FORCE_CLOSED = (1000, "http2: client connection force closed via ClientConn.Close")
FORCE_CLOSED_NOTE = ("this reset cut a stream the proxy held: when k6's timeout for that stream fires as the reset "
                     "arrives, Go's cancel of it fails to write and Go closes the connection, failing this request "
                     "with that close instead of the reset")
RETRY_NOTE = (
    "k6 (Go) retries this request transparently (up to 7 times, back-offs 1-32 s); if every attempt meets "
    "this fault, k6 reports its request timeout (1050, as here); if a retry succeeds, k6 reports the retry's "
    "outcome. Use 'first: 1' or 'probability' to let a retry through"
)
UNKNOWN_AUTHORITY = "x509: unknown authority"  # k6 1.1.0 shortens Go's text (measured)
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
# certificate kind -> (k6 code, k6 error | None when computed, entry)
CERT = {
    "untrusted": (1310, UNKNOWN_AUTHORITY, "tls.x509.unknown_authority"),
    "self_signed": (1310, UNKNOWN_AUTHORITY, "tls.x509.unknown_authority"),
    "incomplete_chain": (1310, UNKNOWN_AUTHORITY, "tls.x509.unknown_authority"),
    # Go finds no acceptable chain (the SHA-1 signature is refused while building it):
    # UnknownAuthorityError, not the InsecureAlgorithmError k6's docs suggest (measured)
    "sha1": (1310, UNKNOWN_AUTHORITY, "tls.x509.unknown_authority"),
    "wrong_host": (1311, "x509: certificate doesn't match hostname", "tls.x509.hostname_mismatch"),
    "expired": (1000, None, "tls.x509.invalid_certificate"),
    "not_yet_valid": (1000, None, "tls.x509.invalid_certificate"),
    "weak_key": (0, "", "ok.none.success"),  # Go accepts RSA-1024
}


def k6(code: int, error: str, entry: str, **kw) -> ClientReport:
    return ClientReport(NAME, code, error, entry=entry, **kw)


def h2_code(kind: str, code: int) -> int:
    return catalog.k6_code_for_h2(kind, code)


def h2_error(kind: str, code: int) -> ClientReport:
    text = {"goaway": "http2: received GoAway with http2 ErrCode", "stream": "http2: stream error with http2 ErrCode",
            "connection": "http2: connection error with http2 ErrCode"}[kind]
    return k6(h2_code(kind, code), f"{text} {catalog.h2_name(code)}", catalog.for_h2(kind, code).id)


def retried(note: str = RETRY_NOTE) -> ClientReport:
    return k6(*TIMEOUT, certainty="likely", note=note, retried=True)


def report(o: Outcome) -> ClientReport | None:
    handler = _HANDLERS.get(o.event) or _HANDLERS.get(o.family + ".*")
    return handler(o, o.facts) if handler else None


# -- HTTP ------------------------------------------------------------------------
def _go_retries(o: Outcome) -> bool:
    f = o.facts
    return (o.before_response and not o.h2 and o.reused
            and f.get("method") in GO_REPLAYABLE and not f.get("request_body"))


def _upload_cut(o: Outcome, f: dict) -> ClientReport:
    """The connection ended while k6 was still writing the request body."""
    conn = f"{f.get('client_addr')}->{f.get('proxy_addr')}"
    closed = f"write tcp {conn}: use of closed network connection"
    if o.tcp_reset:
        # the RST lands on a write (ECONNRESET); when it came first, the next write is EPIPE,
        # or Go's reader saw it and closed the connection under the writer (seen under load);
        # on HTTP/2 Go's frame reader may see the end first
        r = k6(1220, "write: connection reset by peer", "network.tcp.reset_by_peer",
               note="an RST during the upload: usually the write sees it").also(1201, "write: broken pipe")
        # on HTTP/2 Go's frame reader may see the RST (1220 read) or the end (1000) first
        return r.also(1220, "read: connection reset by peer").also(1000, "unexpected EOF") if o.h2 \
            else r.also(1200, closed)
    if o.h2:
        # Go's frame reader sees the end (unexpected EOF), or it has already marked the
        # connection closed when the body writer next writes (measured: both, by timing)
        return k6(1000, "unexpected EOF", "http.body.truncated",
                  note="a FIN during the upload, on HTTP/2: k6 reports 'unexpected EOF' or 'http2: client "
                       "conn is closed', depending on which of its reader and writer sees the end first"
                  ).also(1000, "http2: client conn is closed")
    # Go's reader sees the FIN, closes the connection, and the body writer's next write fails
    return k6(1200, closed, "network.tcp.error", certainty="likely",
              note="a FIN during the upload: Go's reader closes the connection under its body writer")


def _conn_end(o: Outcome, f: dict) -> ClientReport:
    if o.phase == "mid_request":
        return _upload_cut(o, f)
    if o.tcp_reset:
        r = k6(1220, "read: connection reset by peer", "network.tcp.reset_by_peer")
        if o.cut_held_sibling:  # the held stream's side of the race: Go's cancel closed the connection first
            r.also(*FORCE_CLOSED)
            r.note = FORCE_CLOSED_NOTE
    elif o.before_response and not o.h2:
        r = k6(1000, "EOF", "network.tcp.closed")  # Go's HTTP/1 reader: EOF before the status line
    else:
        r = k6(1000, "unexpected EOF", "http.body.truncated")
    if _go_retries(o):
        r.retried, r.certainty = True, "likely"
        r.note = ("k6 retries this request on a new connection (it failed before any response byte "
                  "on a reused keep-alive connection); k6 reports the retry's outcome, not this code")
    if o.event == Event.H2_FALLBACK:
        r.note = (r.note + "; " if r.note else "") + "not an HTTP/2 flow: the fault fell back to a TCP reset"
    return r


def _gave_up(o, f):
    return k6(*TIMEOUT, certainty="likely",
              note="the client closed the exchange before any answer; k6 reports 1050 when its own timeout fired")


def _client_goaway(o, f):
    return k6(1000, "", "client.generic.error", certainty="uncertain",
              note="the client closed the connection itself (GOAWAY); Go's transport does not, so k6 was not "
                   "the client here")


def _released(o, f):
    return k6(1000, "EOF", "network.tcp.closed", certainty="uncertain", note="released at proxy shutdown")


def _killed(o, f):
    if o.h2:
        return k6(1633, "http2: stream error with http2 ErrCode INTERNAL_ERROR", "http2.stream.internal_error",
                  note="mitmproxy kills an HTTP/2 stream with RST_STREAM INTERNAL_ERROR")
    return k6(1000, "EOF", "network.tcp.closed", certainty="likely",
              note="mitmproxy closed the connection for a killed flow")


def _upstream_failed(o, f):
    return k6(1502, "", "http.status.bad_gateway", note=o.summary)


def _upstream_cut(o, f):
    return k6(1000, "unexpected EOF", "http.body.truncated", certainty="uncertain", note=o.summary)


def _unknown(o, f):
    return k6(0, "", "ok.none.success", certainty="uncertain", note=o.summary)


def _status(status: int) -> ClientReport:
    if status >= 400:
        return k6(1000 + status, "", catalog.for_http_status(status).id)
    return k6(0, "", "ok.none.success")


def _response(o, f):
    r = _status(f["status"])
    up = f.get("throttled_request_bytes_per_s")
    if up and r.error == 0:
        r.certainty = "likely"
        r.note = f"the upload was read at {up} B/s; a client timeout shorter than the upload gives 1050"
    rate = f.get("throttled_bytes_per_s")
    if rate and r.error == 0:
        size = f.get("body_size", 0)
        r.certainty = "likely"
        r.note = (f"the body is paced at {rate} B/s ({size} bytes: {size / rate:.1f} s); "
                  "a client timeout shorter than that gives 1050")
    return r


def _informational(o, f):
    return k6(*TIMEOUT, certainty="likely",
              note="a 1xx answer is informational: the client keeps waiting for a final status until its timeout")


def _switching(o, f):
    return k6(0, "unsupported response status: 101 Switching Protocols", "ok.none.success", certainty="uncertain",
              note="k6 throws this as a script exception (GoError) instead of setting error_code")


_GO_DECODE = {"empty": "EOF", "short": "unexpected EOF", "bad_magic": "gzip: invalid header",
              "zlib_bad": "zlib: invalid header"}


def _undecodable(o, f):
    problem = f["decode_problem"]
    if f.get("method") == "HEAD" and problem != "empty":
        return _status(f["status"])  # Go does not read a HEAD response's body
    text = _GO_DECODE.get(problem) or f"gzip: {f.get('decode_detail', '')}"
    # k6 1.1.0 wraps the decoder error twice (observed with the real binary)
    return k6(1701, f"error decompressing response body (error decompressing response body ({text}))",
              "http.body.decompression")


def _short_body(o, f):
    return k6(1000, "unexpected EOF", "http.body.truncated", note="fewer body bytes than Content-Length announced")


def _grpc(o, f):
    return k6(0, "", "ok.none.success",
              note="gRPC status in the trailers; k6's http module reports the HTTP status (200)")


# -- HTTP/2 frames ----------------------------------------------------------------
def _rst_stream(o, f):
    code, phase = f["code"], o.phase
    if phase == "mid_request" and code == 0x7:
        return retried("Go re-sends the request (body included) after a RST_STREAM REFUSED_STREAM during the "
                       "upload; " + RETRY_NOTE)
    if phase == "before_response" and code in (0x1, 0x7):
        return retried(
            f"Go retries a stream reset with {catalog.h2_name(code)} that arrives before the response headers "
            "(REFUSED_STREAM: at once, then after 1, 2, 4 ... s; PROTOCOL_ERROR: on a new connection each "
            "time, a reconnect storm); " + RETRY_NOTE)
    return h2_error("stream", code)


def _goaway(o, f):
    code, phase = f["code"], o.phase
    if f.get("goaway_refused"):
        return k6(0, "", "ok.none.success", certainty="likely", retried=True,
                  note="this stream was above a draining GOAWAY's last_stream_id: k6 retries it on a new "
                       "connection and reports the retry's outcome")
    if phase == "after_response":
        return k6(0, "", "ok.none.success", note="the GOAWAY followed a complete response")
    if not o.goaway_covers:
        if catalog.goaway_aborts_first_stream(f.get("stream_id") or 1, code):
            return k6(1000, f"http2: Transport received GOAWAY from server ErrCode:{catalog.h2_name(code)}",
                      "http2.goaway.first_stream_aborted",
                      note="Go aborts the first stream of a connection on a GOAWAY with an error code above it, "
                           "and does not retry it")
        if phase == "after_headers":
            return k6(1000, "http2: Transport received Server's graceful shutdown GOAWAY", "client.generic.error",
                      note="the GOAWAY said this stream was not processed, but its response had begun: no retry")
        return retried("the GOAWAY said this stream was not processed (above last_stream_id): Go retries at "
                       "once on a new connection, again and again (a reconnect storm, ~130 attempts/s measured); "
                       + RETRY_NOTE)
    if o.drains:
        return k6(0, "", "ok.none.success",
                  note="draining GOAWAY: this stream was at or below last_stream_id and finished")
    return h2_error("goaway", code)


def _violation(o, f):
    kind, code = f["violation"], f["code"]
    if kind == "oversized_frame":
        # Go's framer rejects the frame before it becomes an HTTP/2 ConnectionError
        return k6(1000, "http2: frame too large", "http2.frame.too_large",
                  note="Go's framer reports ErrFrameTooLarge, which k6 does not map to 1657")
    if kind == "window_overflow":
        # A race in the client: usually k6 has re-opened its window (WINDOW_UPDATE) before
        # the excess lands and only our close ends the body; under load Go sometimes sees
        # the excess first and reports FLOW_CONTROL_ERROR (seen in a loaded CI run).
        alt = h2_error("connection", code)
        return k6(1000, "unexpected EOF", "http.body.truncated",
                  note="k6 usually re-opens its window (WINDOW_UPDATE) before the excess lands, so the close "
                       f"cuts the body; when Go sees the excess first it reports {alt.error} instead",
                  ).also(alt.error, alt.message)
    return h2_error("connection", code)


# -- TLS ----------------------------------------------------------------------------
def _go_time(t: datetime.datetime) -> str:
    return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def cert_error(cert: str, now: datetime.datetime | None = None, bound: datetime.datetime | None = None
               ) -> tuple[int, str]:
    """(code, error) k6 reports for a certificate of this kind (Go verifier order:
    validity period, then host name, then chain)."""
    code, text, _ = CERT[cert]
    if text is None:
        text = "x509: certificate has expired or is not yet valid"
        if bound is not None:
            now = now or datetime.datetime.now(datetime.timezone.utc)
            rel = "after" if cert == "expired" else "before"
            text += f": current time {_go_time(now)} is {rel} {_go_time(bound)}"
    return code, text


def _tls(o, f):
    ev = o.event
    if ev == Event.TLS_ALERT:
        r = k6(1010, f"remote error: tls: {GO_ALERT_TEXT.get(f['alert'], 'alert(%d)' % f['alert'])}",
               "tls.alert.remote")
        if f.get("encrypted"):
            # TLS 1.3: the alert comes after the client's Finished, so Go's HTTP/2 transport
            # may already wait for our SETTINGS when it lands (2 in 60 under CPU load, measured)
            r.also(1000, "http2: client conn could not be established")
            r.note = "the alert arrives after the client finished its handshake; on HTTP/2 k6 sometimes " \
                     "reports 1000 'http2: client conn could not be established' instead"
        return r
    if ev == Event.TLS_PLAINTEXT:
        return k6(1301, "tls: first record does not look like a TLS handshake", "tls.record.header")
    if ev == Event.TLS_RST:
        return k6(1220, "read: connection reset by peer", "network.tcp.reset_by_peer")
    if ev == Event.TLS_FIN:
        return k6(1000, "EOF", "network.tcp.closed")
    if ev == Event.TLS_STALL:
        return k6(*TIMEOUT, certainty="likely",
                  note="the client gave up on a handshake that was never answered; k6 reports 1050 "
                       "when its request timeout fires (k6 sets no TLS handshake timeout)")
    if ev == Event.TLS_STALL_RELEASED:
        return k6(1000, "EOF", "network.tcp.closed", certainty="likely",
                  note="the stall ended (stall_ms or shutdown) with a FIN")
    if ev == Event.TLS_BAD_CERT:
        cert = f["cert"]
        code, text = cert_error(cert, f.get("now"), f.get("bound"))
        r = k6(code, text, CERT[cert][2])
        if code == 0:
            r.note, r.certainty = "k6 (Go) accepts this certificate; this client rejected it", "likely"
        return r
    return k6(1000, "EOF", "network.tcp.closed", certainty="uncertain", note=o.summary)


# -- DNS and dialing (faults/classify/dns.py) -------------------------------------------
def _dns(o, f):
    ev = o.event
    if ev == Event.DNS_NO_SUCH_HOST:
        return k6(1101, "lookup: no such host", "dns.lookup.no_such_host")
    if ev == Event.DNS_ERROR:  # Go: every rcode but NXDOMAIN is "server misbehaving" (it asks twice)
        return k6(1100, f"lookup {f['name']} on {f['server']}: server misbehaving", "dns.lookup.error")
    if ev == Event.DNS_DROP:  # Go's DNSError IsTimeout: k6's timeout swap makes it 1050, never 1100
        return k6(*TIMEOUT, note="no DNS reply: the resolver times out (resolv.conf timeout x attempts)")
    r = k6(0, "", "ok.none.success", note="the lookup succeeded; the request's own record says what k6 reports")
    if f.get("pointed"):  # answer=IP: whatever answers there (or k6's blacklistIPs, 1110) decides
        r.certainty = "uncertain"
        r.note = (f"the name points at {', '.join(f['addresses']) or 'no address of this type'}: what k6 reports "
                  "depends on what listens there (nothing: 1212; inside k6's blacklistIPs: 1110)")
    if f.get("delay_ms"):
        r.certainty = "likely"
        r.note += "; a delay above the resolver's timeout (resolv.conf, default 5 s) gives 1050"
    return r


def _dial(o, f):
    if o.event == Event.DIAL_REFUSED:
        r = k6(1212, "dial: connection refused", "network.dial.refused")
        if f.get("refused_checked") is False:
            r.certainty, r.note = "uncertain", "something accepted a test connection there (a wildcard listener?)"
        return r
    r = k6(1211, "dial: i/o timeout", "network.dial.timeout",
           note="k6's dialer gives up after 30 s: 1211 when the request timeout is longer, else 1050")
    r.alt.append({"error": TIMEOUT[0], "message": TIMEOUT[1]})
    r.certainty = "likely"
    return r


_HANDLERS = {
    Event.TCP_RST: _conn_end, Event.TCP_FIN: _conn_end, Event.H2_FALLBACK: _conn_end,
    Event.CLIENT_GAVE_UP: _gave_up, Event.CLIENT_GOAWAY: _client_goaway,
    Event.PROXY_RELEASED: _released, Event.PROXY_KILLED: _killed,
    Event.UPSTREAM_FAILED: _upstream_failed, Event.UPSTREAM_CUT: _upstream_cut, Event.UNKNOWN: _unknown,
    Event.HTTP_RESPONSE: _response, Event.HTTP_INFORMATIONAL: _informational, Event.HTTP_SWITCHING: _switching,
    Event.HTTP_UNDECODABLE: _undecodable, Event.HTTP_SHORT_BODY: _short_body, Event.GRPC_STATUS: _grpc,
    Event.H2_RST_STREAM: _rst_stream, Event.H2_GOAWAY: _goaway, Event.H2_VIOLATION: _violation,
    "tls.*": _tls, "dns.*": _dns, "dial.*": _dial,
}
