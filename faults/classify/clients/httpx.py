"""httpx (httpcore, h11, h2): the exception a request raises, as measured in
``tests/e2e`` (test_core_modes_and_clients, test_k6_h2_frames). ``error`` is the
exception class (None: no exception, the response is returned), ``message`` a
part of its text. HTTP/2 needs ``http2=True`` and a TLS context offering only h2."""

from __future__ import annotations

from faults.classify.outcome import ClientReport, Outcome

NAME = "httpx"


def hx(error: str | None, message: str = "", **kw) -> ClientReport:
    return ClientReport(NAME, error, message, **kw)


def report(o: Outcome) -> ClientReport | None:
    f, ev = o.facts, o.event
    h2 = str(f.get("protocol", "")).startswith("HTTP/2")
    if ev in ("tcp.rst", "tcp.fin", "h2.fallback") and not h2 and f.get("phase") == "mid_request":
        # httpx writes the whole body before it reads: it sees the end as no response
        return hx("RemoteProtocolError", "Server disconnected without sending a response")
    if ev in ("tcp.rst", "h2.fallback"):
        return hx("ReadError", "" if h2 else "Connection reset by peer")
    if ev == "tcp.fin" and h2:  # measured with several streams in flight; a read can race the FIN
        if (f.get("body_sent") or 0) < (f.get("body_announced") or 0):
            # truncate: the stream ended short of its Content-Length before the FIN; h2 refuses it
            # (InvalidBodyLengthError; h2's own ProtocolError escapes httpx at times)
            return hx("LocalProtocolError", "").also("ProtocolError").also("RemoteProtocolError").also("ReadError")
        return hx("RemoteProtocolError", "Server disconnected").also("ReadError")
    if ev == "tcp.fin":
        if f.get("phase") == "before_response":
            return hx("RemoteProtocolError", "Server disconnected without sending a response")
        return hx("RemoteProtocolError", "peer closed connection without sending complete message body")
    if ev == "tcp.fin" and h2 and f.get("phase") == "before_response":
        return hx("RemoteProtocolError", "Server disconnected")  # measured in tests/e2e/test_sse.py
    if ev in ("tcp.rst", "tcp.fin") and h2 and f.get("phase") == "mid_body":
        # measured on streamed bodies (tests/e2e/test_sse.py): the h2 connection just ends;
        # an RST is read as a reset, or, when h2 saw the end first, as a disconnect
        r = hx("RemoteProtocolError", "Server disconnected")
        return hx("ReadError", "").also("RemoteProtocolError", "Server disconnected") if ev == "tcp.rst" else r
    if ev == "http.short_body" and not h2:
        return hx("RemoteProtocolError", "peer closed connection without sending complete message body")
    if ev == "http.undecodable":
        return hx("DecodingError", "", note="when the body is read (response.read() / .text)")
    if ev in ("http.response", "grpc.status", "upstream.failed"):
        return hx(None, "", extra={"status": f.get("status", 502)})
    if ev == "client.goaway":  # h2 refused what a sibling's fault sent and closed the connection
        return hx("LocalProtocolError", "")
    if ev == "client.gave_up":
        return hx("ReadTimeout", "", certainty="likely", note="when httpx's own timeout fired")
    if ev == "h2.rst_stream":
        sid = f.get("stream_id")
        return hx("RemoteProtocolError", f"StreamReset stream_id:{sid}, error_code:{f['code']},")
    if ev == "h2.goaway":
        sid, last = f.get("stream_id") or 1, f.get("last_stream", 0)
        if f.get("phase") == "after_response" or (f.get("then") == "drain" and sid <= last):
            return hx(None, "", extra={"status": f.get("status", 200)})
        if sid <= last:
            return hx("RemoteProtocolError", f"ConnectionTerminated error_code:{f['code']}, last_stream_id:{last},")
        return None  # not measured
    if ev == "h2.violation":
        # h2 refuses the bad frame (LocalProtocolError), unless our close after it is read
        # first (measured under concurrency: both happen, for the faulted stream and its siblings)
        v = f["violation"]
        if v == "bad_hpack":
            return hx("LocalProtocolError", "Error decoding header block").also(
                "RemoteProtocolError", "Server disconnected").also("ReadError")
        if v == "data_on_idle_stream":  # h2 refuses a frame for a stream it never opened
            return hx("LocalProtocolError", "").also("RemoteProtocolError", "Server disconnected").also("ReadError")
        return None
    if ev.startswith(("dns.", "dial.")):
        return _dns(ev, f)
    return None


# glibc's getaddrinfo errors, as socket.gaierror inside httpx.ConnectError
_GAI = {"NXDOMAIN": "[Errno -2] Name or service not known",
        "NOERROR": "[Errno -5] No address associated with hostname"}


def _dns(ev: str, f: dict) -> ClientReport | None:
    if ev == "dns.no_such_host":
        return hx("ConnectError", _GAI.get(f.get("rcode"), _GAI["NXDOMAIN"]))
    if ev in ("dns.error", "dns.drop"):
        return hx("ConnectError", "[Errno -3] Temporary failure in name resolution")
    if ev == "dial.refused":
        return hx("ConnectError", "[Errno 111] Connection refused")
    if ev == "dial.blackhole":
        return hx("ConnectTimeout", "", certainty="likely", note="when httpx's connect timeout fired")
    return None
