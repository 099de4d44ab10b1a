"""An HTTP/3 frame fault's wire record -> its client-neutral ``Outcome``.

Called by ``faults.classify.http.outcome_of`` when the wire record has ``h3_frame``
(RESET_STREAM, GOAWAY, CONNECTION_CLOSE: ``faults.wire.h3layer``). The outcome names
the frame and its code; ``facts["h3_error"]`` is ``{"name", "value", "space"}``.
"""

from __future__ import annotations

from faults.catalog.tables import h3_name, quic_name
from faults.classify.outcome import Event, Outcome


def code_name(code: int, space: str = "application") -> str:
    return quic_name(code) if space == "transport" else h3_name(code)


def outcome_of(wire: dict, facts: dict) -> Outcome:
    frame, code, phase = wire["h3_frame"], wire.get("code", 0), wire.get("phase")
    space = wire.get("quic_error_space", "application")
    name = code_name(code, space)
    if frame == "reset_stream":
        also = " and STOP_SENDING" if wire.get("stop_sending") else ""
        o = Outcome(Event.H3_RESET_STREAM, "http3.stream.reset", f"RESET_STREAM{also} {name} on this stream ({phase})")
    elif frame == "goaway":
        sid, gid = wire.get("stream_id") or 0, wire.get("goaway_id", 0)
        covered = "processed (below" if sid < gid else "not processed (at or above"
        o = Outcome(Event.H3_GOAWAY, "http3.goaway.received",
                    f"GOAWAY {gid}: this stream {sid} {covered} it), then {wire.get('then', 'close')}"
                    + (f" with CONNECTION_CLOSE {name}" if wire.get("then", "close") == "close" else "") + f" ({phase})",
                    {"covered": sid < gid})
    elif frame == "connection_close":
        entry = "http3.connection.transport_error" if space == "transport" else "http3.connection.closed"
        kind = "0x1c, QUIC transport error" if space == "transport" else "0x1d, HTTP/3 application error"
        instead = f", standing in for a TCP {wire['instead_of'].upper()}" if wire.get("instead_of") else ""
        o = Outcome(Event.H3_CONNECTION_CLOSE, entry, f"CONNECTION_CLOSE ({kind}) {name} ({phase}{instead})")
    else:
        return Outcome("unknown", "client.generic.error", f"unknown h3_frame {frame!r}")
    o.facts["h3_error"] = {"name": name, "value": code, "space": space}
    return o
