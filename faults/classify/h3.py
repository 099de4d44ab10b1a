"""An HTTP/3 frame fault's wire record -> its client-neutral ``Outcome``.

Called by ``faults.classify.http.outcome_of`` when the wire record has ``h3_frame``
(RESET_STREAM, GOAWAY, CONNECTION_CLOSE: ``faults.wire.h3layer``). The outcome names
the frame and its code; ``facts["h3_error"]`` is ``{"name", "value", "space"}``.
"""

from __future__ import annotations

from faults.catalog.tables import close_code_name
from faults.classify.outcome import Event, Outcome


def outcome_of(wire: dict, facts: dict) -> Outcome:
    frame, code, phase = wire["h3_frame"], wire.get("code", 0), wire.get("phase")
    space = wire.get("quic_error_space", "application")
    name = close_code_name(code, space)
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
        entry, kind = _close_kind(space)
        instead = f", standing in for a TCP {wire['instead_of'].upper()}" if wire.get("instead_of") else ""
        o = Outcome(Event.H3_CONNECTION_CLOSE, entry, f"CONNECTION_CLOSE ({kind}) {name} ({phase}{instead})")
    else:
        return Outcome("unknown", "client.generic.error", f"unknown h3_frame {frame!r}")
    o.facts["h3_error"] = {"name": name, "value": code, "space": space}
    return o


def _close_kind(space: str) -> tuple[str, str]:
    """A server's CONNECTION_CLOSE: its catalog entry and frame type, by error space."""
    if space == "transport":
        return "http3.connection.transport_error", "0x1c, QUIC transport error"
    return "http3.connection.closed", "0x1d, HTTP/3 application error"


def _close_error(close: dict) -> tuple[str, str, str]:
    """A CONNECTION_CLOSE seen on the wire (``{code, frame_type, reason}``): its space, code name
    and reason as the summary shows it. A transport close (0x1c) names a frame type."""
    space = "transport" if close.get("frame_type") is not None else "application"
    reason = f" ({close['reason']})" if close.get("reason") else ""
    return space, close_code_name(close["code"], space), reason


def proxy_close(close: dict) -> Outcome:
    """The proxy's own stack closed the QUIC connection while this stream was open, not a fault
    of ours: mitmproxy's HTTP/3 layer (PROTOCOL_VIOLATION "stream already ended", invalid
    headers: H3_GENERAL_PROTOCOL_ERROR), aioquic itself, or the proxy's shutdown (H3_NO_ERROR).
    The client sees a server's CONNECTION_CLOSE, as for ``quic_close``: the same catalog entries."""
    space, name, reason = _close_error(close)
    entry, kind = _close_kind(space)
    o = Outcome(Event.H3_PROXY_CLOSE, entry,
                f"the proxy's own QUIC/HTTP/3 stack (not a fault) closed the QUIC connection with "
                f"CONNECTION_CLOSE ({kind}) {name}{reason} before this stream's answer")
    o.facts["h3_error"] = {"name": name, "value": close["code"], "space": space}
    o.facts["by_proxy"] = True
    return o


def client_close(close: dict) -> Outcome:
    """The client closed the QUIC connection itself while this stream was open (aioquic after a
    short body on a sibling stream: H3_MESSAGE_ERROR): no fault of ours ended this stream."""
    space, name, reason = _close_error(close)
    o = Outcome(Event.H3_CLIENT_CLOSE, "http3.connection.client_closed",
                f"the client closed the QUIC connection itself with CONNECTION_CLOSE {name}{reason} "
                "before this stream's answer")
    o.facts["h3_error"] = {"name": name, "value": close["code"], "space": space}
    o.facts["by_client"] = True
    return o
