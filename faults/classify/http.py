"""Outcome -> the error k6 reports for it.

The proxy cannot see the client's error, only what went out on the wire. We
classify from that: the record a fault left in ``flow.metadata['fault_wire']``
(how the connection ended, at which phase, how many body bytes left), the
response that was sent, mitmproxy's own error for natural failures, the
protocol, and whether the connection was fresh or reused. The codes below are
the ones the real k6 1.1.0 reported in ``tests/e2e`` (see README); where k6's
docs differ, k6 wins.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass, field

from faults.wire.act import WIRE_KEY

CONN_SEQ_KEY = "conn_seq"

# Go's net/http retries a request that failed before any response byte on a
# reused keep-alive connection when the request is replayable: no body (or a
# rewindable one) and an idempotent method (RFC 9110 safe methods + PUT/DELETE
# only with an Idempotency-Key; Go: GET, HEAD, OPTIONS, TRACE).
GO_REPLAYABLE = {"GET", "HEAD", "OPTIONS", "TRACE"}


@dataclass
class Verdict:
    k6_error_code: int
    k6_error: str
    certainty: str = "exact"  # exact | likely | uncertain
    note: str = ""
    client_retry: bool = False  # k6 will retry this request transparently
    facts: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {**self.__dict__, "facts": dict(self.facts)}  # asdict's deep copy is a quarter of the cost


def _is_h2(flow) -> bool:
    return flow.request.http_version.startswith("HTTP/2")


def _go_retries(flow, phase: str) -> bool:
    """Go's HTTP/1 transport retries on a fresh connection when a reused one
    failed before any response byte."""
    return (
        phase == "before_response"
        and not _is_h2(flow)
        and flow.metadata.get(CONN_SEQ_KEY, 0) > 0
        and flow.request.method in GO_REPLAYABLE
        and not flow.request.raw_content
    )


def _connection_end(flow, wire: dict) -> Verdict:
    how, phase = wire["conn_end"], wire.get("phase", "before_response")
    if how == "rst":
        v = Verdict(1220, "read: connection reset by peer")
    elif phase == "before_response" and not _is_h2(flow):
        v = Verdict(1000, "EOF")  # Go's HTTP/1 reader: EOF before the status line
    else:
        v = Verdict(1000, "unexpected EOF")
    if _go_retries(flow, phase):
        v.client_retry = True
        v.certainty = "likely"
        v.note = (
            "k6 retries this request on a new connection (it failed before any response byte "
            "on a reused keep-alive connection); k6 reports the retry's outcome, not this code"
        )
    return v


def _decode_error(flow) -> str | None:
    """The text Go gives for a body that does not decode, or None if it decodes."""
    r = flow.response
    if r.status_code < 200 or r.status_code in (204, 304):
        return None
    enc = [e.strip().lower() for e in r.headers.get("content-encoding", "").split(",") if e.strip()]
    data = r.raw_content or b""
    for e in reversed(enc):
        if e == "gzip":
            if len(data) < 10:
                return "EOF" if not data else "unexpected EOF"
            if data[:2] != b"\x1f\x8b":
                return "gzip: invalid header"
            try:
                data = gzip.decompress(data)
            except Exception as ex:  # checksum, truncation
                return f"gzip: {ex}"
        elif e == "deflate":
            if not data:
                return "unexpected EOF"
            try:
                data = zlib.decompress(data)
            except zlib.error:
                return "zlib: invalid header"
    return None


def classify(flow) -> Verdict:
    wire = flow.metadata.get(WIRE_KEY, {})
    facts = {"protocol": flow.request.http_version, "reused_connection": flow.metadata.get(CONN_SEQ_KEY, 0) > 0}

    if wire.get("h2_frame"):
        from faults.classify.h2 import classify_h2  # HTTP/2 frame faults (GOAWAY, RST_STREAM, ...)

        v = classify_h2(flow, wire)
    elif wire.get("grpc_status") is not None:
        from faults.classify.h2 import classify_grpc

        v = classify_grpc(flow, wire)
    elif wire.get("conn_end"):
        v = _connection_end(flow, wire)
    elif wire.get("client_gave_up") or (flow.error and _client_went_away(flow)):
        v = Verdict(
            1050, "request timeout", certainty="likely",
            note="the client closed the exchange before any answer; k6 reports 1050 when its own timeout fired",
        )
    elif wire.get("released_at_shutdown"):
        v = Verdict(1000, "EOF", certainty="uncertain", note="released at proxy shutdown")
    elif flow.error:
        v = _natural_error(flow)
    elif flow.response is None:
        v = Verdict(0, "", certainty="uncertain", note="no response and no error recorded")
    else:
        v = _response(flow)
        if wire.get("throttled_bytes_per_s") and v.k6_error_code == 0:
            size = len(flow.response.raw_content or b"")
            v.certainty = "likely"
            v.note = (f"the body is paced at {wire['throttled_bytes_per_s']} B/s ({size} bytes: "
                      f"{size / wire['throttled_bytes_per_s']:.1f} s); a client timeout shorter than that gives 1050")
    # what the wire record says, then what a sub-classifier concluded (it wins)
    v.facts = {**facts, **{k: val for k, val in wire.items() if val is not None}, **v.facts}
    return v


def _client_went_away(flow) -> bool:
    msg = (flow.error.msg or "").lower()
    return "client disconnected" in msg or "client" in msg and ("reset" in msg or "cancel" in msg) or (
        flow.response is None and flow.client_conn.timestamp_end is not None and "killed" not in msg
    )


def _natural_error(flow) -> Verdict:
    msg = flow.error.msg or ""
    if "killed" in msg.lower():
        if _is_h2(flow):
            return Verdict(1633, "http2: stream error with http2 ErrCode INTERNAL_ERROR",
                           note="mitmproxy kills an HTTP/2 stream with RST_STREAM INTERNAL_ERROR")
        return Verdict(1000, "EOF", certainty="likely", note="mitmproxy closed the connection for a killed flow")
    if flow.response is None:
        # mitmproxy answers upstream failures itself with 502 Bad Gateway.
        return Verdict(1502, "", note=f"upstream failed ({msg}); mitmproxy answered 502")
    return Verdict(1000, "unexpected EOF", certainty="uncertain", note=f"upstream failed mid-response: {msg}")


def _response(flow) -> Verdict:
    r = flow.response
    if r.status_code == 101 and not flow.websocket:
        return Verdict(0, "unsupported response status: 101 Switching Protocols", certainty="uncertain",
                       note="k6 throws this as a script exception (GoError) instead of setting error_code")
    if 100 <= r.status_code < 200 and r.status_code != 101:
        return Verdict(1050, "request timeout", certainty="likely",
                       note="a 1xx answer is informational: the client keeps waiting for a final status until its timeout")
    decode = _decode_error(flow)
    if decode and flow.request.method != "HEAD" or decode and decode == "EOF":
        # k6 1.1.0 wraps the decoder error twice (observed with the real binary).
        return Verdict(1701, f"error decompressing response body (error decompressing response body ({decode}))")
    length = r.headers.get("content-length", "")
    if length.isdigit() and int(length) > len(r.raw_content or b"") and flow.request.method != "HEAD":
        return Verdict(1000, "unexpected EOF", note="fewer body bytes than Content-Length announced")
    if r.status_code >= 400:
        return Verdict(1000 + r.status_code, "")
    return Verdict(0, "")
