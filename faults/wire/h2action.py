"""What ``faults.wire.h2layer`` must do for one HTTP/2 stream: an ``H2Action``.

A fault kind asks for it through ``Act`` (``h2_rst_stream``, ``h2_goaway``,
``h2_violation``, ``stall_stream``, ``h2_cut_now``, ...); the layer reads its
fields when the stream's events pass and marks it ``fired`` once its frames
went out. Kept per flow here, not in ``flow.metadata`` (which mitmproxy saves
with the flow: an object there would make the flow unsavable); a flow's action
goes when the flow does. The fields that lead to a wire record carry the
record's names (``faults.vocabulary.WireRecord``).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Literal

_actions: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # flow -> its H2Action


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


def set_action(flow, action: H2Action) -> H2Action:
    _actions[flow] = action
    return action


def of(flow) -> H2Action | None:
    """The flow's action; None when no fault asked the layer for anything."""
    return _actions.get(flow) if _actions else None
