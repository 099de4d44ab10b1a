"""HTTP/2 frame faults and gRPC statuses -> what k6 (Go's x/net/http2) reports.

Called by ``faults.classify.http.classify`` when the wire record has ``h2_frame``
(GOAWAY, RST_STREAM, protocol violation) or ``grpc_status``. The codes are the
ones the real k6 1.1.0 reported in ``tests/e2e/test_k6_h2_frames.py``
(docs/http2.md has the table); k6's formula: GOAWAY 1610+code+1, stream error
1630+code+1, connection error 1650+code+1 for codes <= 0xd, else bare
1610/1630/1650.

Retries decide whether a code is seen at all. Go retries a request, up to 7
times with back-offs of 0, 1, 2, 4, 8, 16, 32 s, when
- a RST_STREAM REFUSED_STREAM or PROTOCOL_ERROR arrives before the response headers;
- a GOAWAY leaves the stream above last_stream_id (not processed), except
  stream 1 with a code other than NO_ERROR, which fails at once (k6 1000).
A fault that fires on every attempt (an ``x-fault`` header, a rule without
``first``/``probability``) therefore ends in k6's own timeout: 1050.
"""

from __future__ import annotations

from faults.classify.http import Verdict, _connection_end

RETRY_NOTE = (
    "k6 (Go) retries this request transparently (up to 7 times, back-offs 1-32 s); if every attempt meets "
    "this fault, k6 reports its request timeout (1050, as here); if a retry succeeds, k6 reports the retry's "
    "outcome. Use 'first: 1' or 'probability' to let a retry through"
)
GO_RETRY_TIMEOUT = (1050, "request timeout")
VIOLATION_CODES = {  # the connection error each violation makes the client detect
    "data_on_idle_stream": 0x1,  # PROTOCOL_ERROR
    "oversized_frame": 0x6,  # FRAME_SIZE_ERROR
    "window_overflow": 0x3,  # FLOW_CONTROL_ERROR
    "bad_hpack": 0x9,  # COMPRESSION_ERROR
}
NAMES = [
    "NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT", "STREAM_CLOSED",
    "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM",
    "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED",
]


def go_name(code: int) -> str:
    """Go's ErrCode.String()."""
    return NAMES[code] if 0 <= code < len(NAMES) else f"unknown error code 0x{code:x}"


def k6_code(base: int, code: int) -> int:
    return base + (code + 1 if 0 <= code <= 0xD else 0)


def stream_error(code: int) -> Verdict:
    return Verdict(k6_code(1630, code), f"http2: stream error with http2 ErrCode {go_name(code)}")


def goaway_error(code: int) -> Verdict:
    return Verdict(k6_code(1610, code), f"http2: received GoAway with http2 ErrCode {go_name(code)}")


def connection_error(code: int) -> Verdict:
    return Verdict(k6_code(1650, code), f"http2: connection error with http2 ErrCode {go_name(code)}")


def retried(note: str = RETRY_NOTE) -> Verdict:
    v = Verdict(*GO_RETRY_TIMEOUT, certainty="likely", note=note, client_retry=True)
    return v


def classify_h2(flow, wire: dict) -> Verdict:
    if wire.get("fallback"):
        v = _connection_end(flow, {**wire, "conn_end": "rst", "phase": "before_response"})
        v.note = (v.note + "; " if v.note else "") + "not an HTTP/2 flow: the fault fell back to a TCP reset"
        return _with_facts(v, wire.get("code"))
    frame = wire["h2_frame"]
    if frame == "rst_stream":
        v = _rst(wire)
    elif frame == "goaway":
        v = _goaway(wire)
    elif frame == "violation":
        v = _violation(wire)
    else:
        v = Verdict(0, "", certainty="uncertain", note=f"unknown h2_frame {frame!r}")
    v = _with_facts(v, VIOLATION_CODES[wire["violation"]] if frame == "violation" else wire.get("code"))
    if is_grpc(flow) and frame in ("rst_stream", "goaway", "violation"):
        from faults.kinds.grpc_status import GRPC_CODES

        name = grpc_for_h2(v, wire)
        g = {"name": name, "value": GRPC_CODES[name], "client": "grpcio"}
        if frame == "goaway" and wire.get("phase") == "before_response" and (
            wire.get("stream_id") or 1) > wire.get("last_stream", 0):
            # grpcio retries a call a GOAWAY says was not processed once, transparently
            g["transparent_retry"] = True
        if frame == "violation" and wire.get("violation") == "window_overflow":
            # A race inside grpcio: usually our close ends the call (UNAVAILABLE), but under
            # load it sometimes processes the overflowing DATA first (INTERNAL, "frame of
            # size N overflows local window"). Seen once in a loaded CI run.
            g["or"] = {"name": "INTERNAL", "value": GRPC_CODES["INTERNAL"]}
            v.certainty = "uncertain"
            v.note = (v.note + "; " if v.note else "") + (
                "grpcio reports UNAVAILABLE, or INTERNAL when it processes the overflowing DATA before the close")
        v.facts["grpc_status"] = g
    return v


# What grpcio (C-core) reports for a RST_STREAM code (measured; the gRPC spec's
# mapping): every other code, unknown ones included, is INTERNAL.
GRPC_FOR_RST = {0x7: "UNAVAILABLE", 0x8: "CANCELLED", 0xB: "RESOURCE_EXHAUSTED", 0xC: "PERMISSION_DENIED"}
GRPC_FOR_VIOLATION = {  # grpcio, measured
    "data_on_idle_stream": "UNAVAILABLE",  # grpcio ignores the frame; our close ends the call
    "oversized_frame": "UNKNOWN",  # "Failed parsing HTTP/2 (Frame size ... is larger than max frame size)"
    "window_overflow": "UNAVAILABLE",  # the close ends the call
    "bad_hpack": "INTERNAL",  # "Failed parsing HTTP/2 (Illegal hpack op code)"
}


def is_grpc(flow) -> bool:
    return flow.request.headers.get("content-type", "").startswith("application/grpc")


def grpc_for_h2(v: Verdict, wire: dict) -> str:
    """The gRPC status grpcio reports for an HTTP/2 frame fault on a gRPC call."""
    frame = wire["h2_frame"]
    if frame == "rst_stream":
        return GRPC_FOR_RST.get(wire["code"], "INTERNAL")
    if frame == "violation":
        return GRPC_FOR_VIOLATION[wire["violation"]]
    if v.k6_error_code == 0 and not wire.get("goaway_refused"):
        return "OK"  # the call finished before the GOAWAY took effect
    return "UNAVAILABLE"  # grpcio does not retry a call a GOAWAY cut or refused


def _with_facts(v: Verdict, code: int | None) -> Verdict:
    if code is not None:
        v.facts["h2_error"] = {"name": go_name(code), "value": code}
    return v


def _violation(wire: dict) -> Verdict:
    kind = wire["violation"]
    code = VIOLATION_CODES[kind]  # the connection error a strict client detects
    if kind == "oversized_frame":
        # Go's framer rejects the frame before it becomes an HTTP/2 ConnectionError
        return Verdict(1000, "http2: frame too large",
                       note="Go's framer reports ErrFrameTooLarge, which k6 does not map to 1657")
    if kind == "window_overflow":
        # A race in the client: usually k6 has re-opened its window (WINDOW_UPDATE) before
        # the excess lands and only our close ends the body; under load Go sometimes sees
        # the excess first and reports FLOW_CONTROL_ERROR (seen in a loaded CI run).
        alt = connection_error(code)
        v = Verdict(1000, "unexpected EOF", certainty="uncertain",
                    note="k6 usually re-opens its window (WINDOW_UPDATE) before the excess lands, so the close "
                         f"cuts the body; when Go sees the excess first it reports {alt.k6_error_code} instead")
        v.facts["k6_or"] = {"k6_error_code": alt.k6_error_code, "k6_error": alt.k6_error}
        return v
    return connection_error(code)


def _rst(wire: dict) -> Verdict:
    code, phase = wire["code"], wire.get("phase")
    if phase == "before_response" and code in (0x1, 0x7):
        return retried(
            f"Go retries a stream reset with {go_name(code)} that arrives before the response headers "
            "(REFUSED_STREAM: at once, then after 1, 2, 4 ... s; PROTOCOL_ERROR: on a new connection each "
            "time, a reconnect storm); " + RETRY_NOTE
        )
    return stream_error(code)


def _goaway(wire: dict) -> Verdict:
    code, phase = wire["code"], wire.get("phase")
    sid, last = wire.get("stream_id") or 1, wire.get("last_stream", 0)
    if wire.get("goaway_refused"):
        return Verdict(0, "", certainty="likely", client_retry=True,
                       note="this stream was above a draining GOAWAY's last_stream_id: k6 retries it on a new "
                            "connection and reports the retry's outcome")
    if phase == "after_response":
        return Verdict(0, "", note="the GOAWAY followed a complete response")
    if sid > last:
        if sid == 1 and code != 0:
            return Verdict(1000, f"http2: Transport received GOAWAY from server ErrCode:{go_name(code)}",
                           note="Go aborts the first stream of a connection on a GOAWAY with an error code "
                                "above it, and does not retry it")
        if phase == "after_headers":
            return Verdict(1000, "http2: Transport received Server's graceful shutdown GOAWAY",
                           note="the GOAWAY said this stream was not processed, but its response had begun: "
                                "no retry")
        return retried("the GOAWAY said this stream was not processed (above last_stream_id): Go retries at "
                       "once on a new connection, again and again (a reconnect storm, ~130 attempts/s measured); "
                       + RETRY_NOTE)
    if wire.get("then") == "drain":
        return Verdict(0, "", note="draining GOAWAY: this stream was at or below last_stream_id and finished")
    return goaway_error(code)


def classify_grpc(flow, wire: dict) -> Verdict:
    """k6's HTTP client sees a 200 response: 0; the gRPC status is in the facts."""
    from faults.kinds.grpc_status import GRPC_NAMES

    code = wire["grpc_status"]
    v = Verdict(0, "", note="gRPC status in the trailers; k6's http module reports the HTTP status (200)")
    v.facts["grpc_status"] = {"name": GRPC_NAMES.get(code, str(code)), "value": code}  # what a gRPC client reports
    return v
