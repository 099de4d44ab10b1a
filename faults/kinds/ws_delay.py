"""``ws_delay ms=N``: hold each counted message N ms before relaying it (in order:
later messages on the session wait behind it)."""

from __future__ import annotations

from faults.kinds import Param, register
from faults.kinds._ws import COMMON, WsFault


@register
class WsDelay(WsFault):
    kind = "ws_delay"
    summary = "delay each WebSocket message by N ms"
    params = {**COMMON, "ms": Param(int, min=0, max=3_600_000)}

    async def act_on(self, flow, act, msg):
        act.record(ws_fault="delay", delay_ms=self.get("ms"))
        await act.hold(self.get("ms") / 1000)
