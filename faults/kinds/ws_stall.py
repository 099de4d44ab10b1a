"""``ws_stall``: from the message it acts on, relay nothing more from that side
(``direction``; ``any``: both): no messages, no close frame, no FIN; the connection
stays open and the client waits until it gives up."""

from __future__ import annotations

from faults.kinds import register
from faults.kinds._ws import WsFault


@register
class WsStall(WsFault):
    kind = "ws_stall"
    summary = "stop relaying WebSocket messages, keep the connection"

    async def act_on(self, flow, act, msg):
        msg.drop()
        act.ws_stall(self.get("direction"))
