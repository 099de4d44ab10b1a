"""Collateral: a flow whose connection another flow's fault ended saw that end.

The classifier calls ``collateral(flow)`` before it classifies a flow: the wire
record then says what the client saw (the connection's RST/FIN, the GOAWAY that
covered or refused its stream, the violation), read from ``faults.wire.ends``.
"""

from __future__ import annotations

from mitmproxy import http

from faults import vocabulary as V
from faults.catalog.tables import goaway_aborts_first_stream
from faults.wire import ends


# wire-record fields that say how a fault ended a stream or connection
_EFFECTS = {"conn_end", "conn_end_ok", "phase", "h2_frame", "code", "code_name", "stream_id", "last_stream", "then",
            "stream_ended", "violation", "goaway_refused", "fallback", "body_sent", "body_announced",
            "h3_frame", "goaway_id", "quic_error_space", "stop_sending", "instead_of", "h3_short_stream",
            "h3_client_close", "h3_proxy_close"}


def collateral(flow: http.HTTPFlow) -> None:
    """If another flow's fault ended this flow's connection before this flow
    finished, what the client saw is that end: copy it into the wire record.
    A flow whose own fault already ended its stream or connection, or whose stream the
    client had already reset itself (e.g. a hang the client timed out), keeps its record."""
    end = ends.of(flow.client_conn.id)
    if end is None or end["collateral_of"] == flow.id:
        return
    own = flow.metadata.get(V.WIRE, {})
    if min(own.get("ended_seq", end["seq"]), own.get("client_reset_seq", end["seq"])) < end["seq"]:
        return  # its own fault, or the client, ended it first
    own = {k: v for k, v in own.items() if k not in _EFFECTS}  # its own fault never reached the client
    streamed = flow.response is not None and bool(flow.response.stream)
    facts = {"collateral_of": end["collateral_of"], "phase": "mid_body" if streamed else "before_response"}
    if end.get("conn_end"):
        facts["conn_end"] = end["conn_end"]
    elif end.get("h3_frame"):  # an HTTP/3 CONNECTION_CLOSE ended every stream on the connection
        facts.update(h3_frame=end["h3_frame"], code=end["code"], quic_error_space=end["quic_error_space"],
                     stream_id=end["streams"].get(flow.id))
    else:
        sid = end["streams"].get(flow.id)
        facts.update(h2_frame=end["h2_frame"], stream_id=sid)
        if end["h2_frame"] == "violation":
            facts["violation"] = end["violation"]
        else:
            code, last = end["code"], end["last_stream"]
            facts.update(code=code, last_stream=last, then="close")
            # a stream unknown when the GOAWAY went out arrived after it: its id is higher
            if (sid is None or sid > last) and not goaway_aborts_first_stream(sid, code):
                # above last_stream_id: not processed, so the client retries it elsewhere
                facts.update(goaway_refused=True, phase="refused")
    flow.metadata[V.WIRE] = {**own, **facts}
