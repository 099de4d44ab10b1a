"""``ws_drop how=fin|rst``: end the WebSocket session's TCP connection without a
close frame (FIN, or RST), instead of relaying the message it acts on."""

from __future__ import annotations

from faults.kinds import Param, register
from faults.kinds._ws import COMMON, WsFault


@register
class WsDrop(WsFault):
    kind = "ws_drop"
    summary = "end a WebSocket session's connection with no close frame (FIN or RST)"
    params = {**COMMON, "how": Param(str, default="fin", choices=("fin", "rst"))}

    async def act_on(self, flow, act, msg):
        msg.drop()
        if not act.state.get("fired"):
            act.state["fired"] = True
            act.ws_end_connection(self.get("how"))
