"""An HTTP/2 frame fault's wire record -> its client-neutral ``Outcome``.

Called by ``faults.classify.http.outcome_of`` when the wire record has
``h2_frame`` (GOAWAY, RST_STREAM, protocol violation).
"""

from __future__ import annotations

from faults import catalog
from faults.classify.outcome import Event, Outcome

# the connection error each violation makes a strict client detect
VIOLATION_CODES = {
    "data_on_idle_stream": 0x1,  # PROTOCOL_ERROR
    "oversized_frame": 0x6,  # FRAME_SIZE_ERROR
    "window_overflow": 0x3,  # FLOW_CONTROL_ERROR
    "bad_hpack": 0x9,  # COMPRESSION_ERROR
}


def h2_error(code: int) -> dict:
    return {"name": catalog.h2_name(code), "value": code}


def outcome_of(wire: dict, facts: dict) -> Outcome:
    frame = wire["h2_frame"]
    if wire.get("fallback"):
        o = Outcome(Event.H2_FALLBACK, "network.tcp.reset_by_peer",
                    f"{frame}: not an HTTP/2 flow, so a TCP RST before the response", {"phase": "before_response"})
    elif frame == "rst_stream":
        code = wire["code"]
        o = Outcome(Event.H2_RST_STREAM, catalog.for_h2("stream", code).id,
                    f"RST_STREAM {catalog.h2_name(code)} on this stream ({wire.get('phase')})")
    elif frame == "goaway":
        code = wire["code"]
        sid, last = wire.get("stream_id") or 1, wire.get("last_stream", 0)
        covered = "at or below" if sid <= last else "above"
        o = Outcome(Event.H2_GOAWAY, catalog.for_h2("goaway", code).id,
                    f"GOAWAY {catalog.h2_name(code)}, this stream {covered} last_stream_id {last}, "
                    f"then {wire.get('then', 'close')} ({wire.get('phase')})")
    elif frame == "violation":
        code = VIOLATION_CODES[wire["violation"]]
        o = Outcome(Event.H2_VIOLATION, catalog.for_h2("connection", code).id,
                    f"HTTP/2 violation {wire['violation']}: a {catalog.h2_name(code)} connection error, then close",
                    {"code": code})
    else:
        return Outcome(Event.UNKNOWN, "client.generic.error", f"unknown h2_frame {frame!r}")
    code = o.facts.get("code", wire.get("code"))
    if code is not None:
        o.facts["h2_error"] = h2_error(code)
    return o
