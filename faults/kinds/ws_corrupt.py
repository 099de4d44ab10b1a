"""``ws_corrupt frame=bad_opcode|masked|invalid_utf8``: instead of the message it
acts on, send the client a frame it must reject (RFC 6455: a reserved opcode, a
masked server frame, a text frame that is not UTF-8), through mitmproxy's layer."""

from __future__ import annotations

from faults.kinds import Param, register
from faults.kinds._ws import COMMON, WsFault
from faults.wire.wslayer import CORRUPT


@register
class WsCorrupt(WsFault):
    kind = "ws_corrupt"
    summary = "send the WebSocket client a frame it must reject"
    params = {**COMMON, "frame": Param(str, default="bad_opcode", choices=CORRUPT)}

    async def act_on(self, flow, act, msg):
        msg.drop()
        if not act.state.get("fired"):
            act.state["fired"] = True
            act.ws_corrupt(self.get("frame"))
