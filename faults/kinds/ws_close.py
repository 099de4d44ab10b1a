"""``ws_close code=N reason=TEXT``: a real close frame with code N to the client
(through mitmproxy's WebSocket layer, so ws:// and wss:// alike), then the end of
the session; the upstream gets a close too. 1005 sends a close frame with no code."""

from __future__ import annotations

from faults.errors import SpecError
from faults.kinds import Param, register
from faults.kinds._ws import COMMON, WsFault


@register
class WsClose(WsFault):
    kind = "ws_close"
    summary = "close the WebSocket session with a chosen close code and reason"
    params = {**COMMON, "code": Param(int, default=1011, min=1000, max=4999),
              "reason": Param(str, default="", help="the close reason (at most 123 bytes of UTF-8)")}

    @classmethod
    def check(cls, params):
        super().check(params)
        if params.get("code") in (1004, 1006, 1015):
            raise SpecError(f"code={params['code']}: reserved, never sent in a close frame "
                            "(1006 is what a client reports when no close frame came: use ws_drop)")
        if len(params.get("reason", "").encode()) > 123:
            raise SpecError("reason: longer than 123 bytes (a close frame's limit)")
        if params.get("code") == 1005 and params.get("reason"):
            raise SpecError("code=1005 means a close frame with no code: it cannot carry a reason")

    async def act_on(self, flow, act, msg):
        if not act.state.get("fired"):
            act.state["fired"] = True
            msg.drop()
            act.ws_close(self.get("code"), self.get("reason"))
