"""What the wire's layers must do for one flow: an ``H2Action`` for its HTTP/2
stream (``faults.wire.h2layer``), an ``H3Action`` for its HTTP/3 stream or QUIC
connection (``faults.wire.h3layer``), a ``WsAction`` for its WebSocket session
(``faults.wire.wslayer``).

A fault kind asks for one through ``Act`` (``h2_rst_stream``, ``h2_goaway``,
``h2_violation``, ``h3_goaway``, ``h3_close``, ``throttle``, ``stall_stream``,
``ws_close``, ``ws_corrupt``, ``ws_stall``, ...); the layer reads its fields as the
events pass and marks it ``fired`` once its frames went out. Kept per flow here
(``H2``, ``H3``, ``WS``), not in ``flow.metadata``,
which mitmproxy saves with the flow: an object there would make the flow
unsavable. A flow's action goes when the flow does. The fields that lead to a
wire record carry the record's names (``faults.vocabulary.WireRecord``).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Literal


class PerFlow:
    """One action per flow, dropped with the flow."""

    def __init__(self):
        self._by_flow: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def set(self, flow, action):
        self._by_flow[flow] = action
        return action

    def of(self, flow):
        """The flow's action; None when no fault asked the layer for anything."""
        return self._by_flow.get(flow) if self._by_flow else None


@dataclass(slots=True)
class H2Action:
    h2_frame: Literal["rst_stream", "goaway", "violation", "hold"]
    phase: str  # when to fire: mid_request, before_response (at the kill), after_headers, mid_body, after_response
    code: int = 0  # RST_STREAM / GOAWAY error code
    last_stream: int = 0  # GOAWAY's last_stream_id
    then: Literal["close", "drain"] = "close"  # after a GOAWAY
    stream_ended: bool = False  # GOAWAY: the selected stream ends at the frame
    violation: str = ""  # h2_violation's kind
    after_bytes: int = 0  # phase mid_request: request body bytes to let in before the frame
    received: int = 0  # phase mid_request: request body bytes counted so far
    hold_ms: int | None = None  # hold: how long (None: until the stream ends)
    # set as the stream goes
    fired: bool = False  # by the layer, once the frames went out (or the hold began)
    cut_now: bool = False  # by the kind: a streamed cut is due, fire after the stream's next data
    hold_now: bool = False  # by the kind: after the stream's next data, hold its response events

    def facts(self) -> dict:
        """The wire record fields this action leads to, in the record's order."""
        return {name: getattr(self, name) for name in _RECORDED[self.h2_frame]}


_RECORDED = {
    "rst_stream": ("h2_frame", "code", "phase"),
    "goaway": ("h2_frame", "code", "last_stream", "phase", "then", "stream_ended"),
    "violation": ("h2_frame", "violation", "phase"),
    "hold": (),
}


@dataclass(slots=True)
class H3Action:
    """``reset_stream``, ``goaway`` and ``connection_close`` send frames; ``pace``
    (throttle) and ``hold`` (stall) keep the stream's response events back instead."""

    h3_frame: Literal["reset_stream", "goaway", "connection_close", "pace", "hold"]
    phase: str = ""  # when to fire (as H2Action's); pace: none
    code: int = 0  # HTTP/3 application code, or a QUIC transport code (quic_error_space)
    quic_error_space: Literal["transport", "application"] = "application"  # connection_close: 0x1c or 0x1d
    reason: str = ""  # connection_close: its reason phrase
    stop_sending: bool = False  # reset_stream: with STOP_SENDING (the request was still arriving)
    goaway_id: int = 0  # goaway: the first client stream id not processed
    then: Literal["close", "drain"] = "close"  # after a GOAWAY
    stream_ended: bool = False  # goaway: the selected stream ends at the frame
    rate: int = 0  # pace: bytes/s of the stream's DATA
    hold_ms: int | None = None  # hold: how long (None: until the stream ends)
    # set as the stream goes
    fired: bool = False  # by the layer, once the frames went out (or the hold began)
    cut_now: bool = False  # by the kind: a streamed cut is due, fire after the stream's next data
    hold_now: bool = False  # by the kind: after the stream's next data, hold its response events
    holding: bool = False  # by the layer: the hold's pause began (the data before it went out)

    @property
    def transport(self) -> bool:
        """A CONNECTION_CLOSE with a QUIC transport error (not an HTTP/3 application one)."""
        return self.quic_error_space == "transport"

    def facts(self) -> dict:
        """The wire record fields this action leads to, in the record's order."""
        return {name: getattr(self, name) for name in _RECORDED_H3[self.h3_frame]}


_RECORDED_H3 = {
    "reset_stream": ("h3_frame", "code", "stop_sending", "phase"),
    "goaway": ("h3_frame", "code", "goaway_id", "phase", "then", "stream_ended"),
    "connection_close": ("h3_frame", "code", "quic_error_space", "phase"),
    "pace": (),
    "hold": (),
}


@dataclass(slots=True)
class WsAction:
    ws_action: Literal["close", "corrupt", ""] = ""  # the frame to send ("": none, a stall)
    code: int = 0  # close: the close code (1005: a close frame with no code)
    reason: str = ""  # close: the close reason
    corrupt: Literal["bad_opcode", "masked", "invalid_utf8", ""] = ""  # corrupt: which frame
    stall: Literal["server", "client", "any", ""] = ""  # ws_stall: data from this side is held from now on
    fired: bool = False  # set by the layer once the frame went out (a stall: at once)


H2 = PerFlow()  # flow -> H2Action
H3 = PerFlow()  # flow -> H3Action
WS = PerFlow()  # flow -> WsAction
