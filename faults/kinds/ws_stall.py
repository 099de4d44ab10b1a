"""``ws_stall``: stop relaying the session's counted messages (from the one it acts
on), keep the connection open: the client waits until it gives up."""

from __future__ import annotations

from faults.kinds import register
from faults.kinds._ws import WsFault


@register
class WsStall(WsFault):
    kind = "ws_stall"
    summary = "stop relaying WebSocket messages, keep the connection"

    async def act_on(self, flow, act, msg):
        msg.drop()
        act.state["dropped"] = act.state.get("dropped", 0) + 1
        act.record(ws_fault="stall", ws_dropped=act.state["dropped"])
