"""httpx (httpcore, h11, h2): the exception a request raises, as measured in
``tests/e2e`` (test_core_modes_and_clients, test_k6_h2_frames). ``error`` is the
exception class (None: no exception, the response is returned), ``message`` a
part of its text. HTTP/2 needs ``http2=True`` and either the proxy's ``fault_prefer_h2``
(httpx offers ``http/1.1`` first) or a TLS context offering h2 first; measured over
HTTP/2 in ``tests/e2e/test_client_matrix.py`` (one request per fresh connection) too.
Some h2 exceptions escape httpx unwrapped (``InvalidBodyLengthError``,
``FrameTooLargeError``): ``except httpx.HTTPError`` does not catch them."""

from __future__ import annotations

from faults.classify.outcome import ClientReport, Event, Outcome

NAME = "httpx"


def hx(error: str | None, message: str = "", **kw) -> ClientReport:
    return ClientReport(NAME, error, message, **kw)


def report(o: Outcome) -> ClientReport | None:
    f, ev = o.facts, o.event
    h2 = o.h2
    if ev in (Event.TCP_RST, Event.TCP_FIN, Event.H2_FALLBACK) and not h2 and o.phase == "mid_request":
        # httpx writes the whole body before it reads: it sees the end as no response
        return hx("RemoteProtocolError", "Server disconnected without sending a response")
    if o.tcp_reset and h2:
        # one stream on a fresh connection: h2 sees the end as a disconnect (client matrix); with
        # several streams in flight or a streamed body a read can meet the RST first (ReadError)
        return hx("RemoteProtocolError", "Server disconnected").also("ReadError", "")
    if o.tcp_reset:
        return hx("ReadError", "Connection reset by peer")
    if ev == Event.TCP_FIN and h2:  # measured with several streams in flight; a read can race the FIN
        if o.short_body:
            # truncate: the stream ended short of its Content-Length before the FIN; h2 refuses it
            # with its own InvalidBodyLengthError, unwrapped (client matrix); under concurrency
            # httpx's LocalProtocolError or a disconnect at times
            return hx("InvalidBodyLengthError", "Expected").also("LocalProtocolError").also(
                "ProtocolError").also("RemoteProtocolError").also("ReadError")
        return hx("RemoteProtocolError", "Server disconnected").also("ReadError")
    if ev == Event.TCP_FIN:
        if o.phase == "before_response":
            return hx("RemoteProtocolError", "Server disconnected without sending a response")
        return hx("RemoteProtocolError", "peer closed connection without sending complete message body")
    if ev == Event.HTTP_SHORT_BODY and not h2:
        return hx("RemoteProtocolError", "peer closed connection without sending complete message body")
    if ev == Event.HTTP_UNDECODABLE:
        return hx("DecodingError", "", note="when the body is read (response.read() / .text)")
    if ev in (Event.HTTP_RESPONSE, Event.GRPC_STATUS, Event.UPSTREAM_FAILED):
        return hx(None, "", extra={"status": f.get("status", 502)})
    if ev == Event.CLIENT_GOAWAY:  # h2 refused what a sibling's fault sent and closed the connection
        return hx("LocalProtocolError", "")
    if ev == Event.CLIENT_GAVE_UP:
        return hx("ReadTimeout", "", certainty="likely", note="when httpx's own timeout fired")
    if ev == Event.H2_RST_STREAM:
        sid = f.get("stream_id")
        return hx("RemoteProtocolError", f"StreamReset stream_id:{sid}, error_code:{f['code']},")
    if ev == Event.H2_GOAWAY:
        last = f.get("last_stream", 0)
        if o.phase == "after_response":
            return hx(None, "", extra={"status": f.get("status", 200)})
        if o.goaway_covers or last == 0:
            # httpcore fails every stream still reading once a GOAWAY arrived, a draining one too
            # (measured: then=drain after the headers); last_stream 0 is no "retry elsewhere" for it
            return hx("RemoteProtocolError", f"ConnectionTerminated error_code:{f['code']}, last_stream_id:{last},")
        return None  # not measured (httpcore retries a stream above a non-zero last_stream)
    if ev == Event.H2_VIOLATION:
        # h2 refuses the bad frame (LocalProtocolError), unless our close after it is read
        # first (measured under concurrency: both happen, for the faulted stream and its siblings)
        v = f["violation"]
        if v == "bad_hpack":
            return hx("LocalProtocolError", "Error decoding header block").also(
                "RemoteProtocolError", "Server disconnected").also("ReadError")
        if v == "data_on_idle_stream":  # h2 refuses a frame for a stream it never opened
            return hx("LocalProtocolError", "").also("RemoteProtocolError", "Server disconnected").also("ReadError")
        if v == "oversized_frame":  # hyperframe's error, unwrapped by httpx
            return hx("FrameTooLargeError", "Received overlong frame")
        if v == "window_overflow":  # h2 does not see the excess before the close (one run: likely)
            return hx("RemoteProtocolError", "Server disconnected", certainty="likely").also("ReadError")
        return None
    if o.family in ("dns", "dial"):
        return _dns(ev, f)
    return None


# glibc's getaddrinfo errors, as socket.gaierror inside httpx.ConnectError
_GAI = {"NXDOMAIN": "[Errno -2] Name or service not known",
        "NOERROR": "[Errno -5] No address associated with hostname"}


def _dns(ev: str, f: dict) -> ClientReport | None:
    if ev == Event.DNS_NO_SUCH_HOST:
        return hx("ConnectError", _GAI.get(f.get("rcode"), _GAI["NXDOMAIN"]))
    if ev in (Event.DNS_ERROR, Event.DNS_DROP):
        return hx("ConnectError", "[Errno -3] Temporary failure in name resolution")
    if ev == Event.DIAL_REFUSED:
        return hx("ConnectError", "[Errno 111] Connection refused")
    if ev == Event.DIAL_BLACKHOLE:
        return hx("ConnectTimeout", "", certainty="likely", note="when httpx's connect timeout fired")
    return None
