"""Shared by the ``ws_*`` kinds: which WebSocket messages a fault counts and acts on.

The upgrade passes untouched; the fault acts on the session's messages: those in
``direction`` (server: server->client, the default; client; any) whose content
matches ``match`` (a regex, searched in the text, or in binary content read as
latin-1) are counted, ``after_messages`` of them are relayed, and the fault acts
on the next one (``act_on``). Per-session state lives in ``act.state``: a rule's
fault instance serves every session it selects.
"""

from __future__ import annotations

import re

from faults.errors import SpecError
from faults.kinds import Fault, Param

COMMON = {
    "after_messages": Param(int, default=0, min=0, help="counted messages relayed before the fault acts"),
    "direction": Param(str, default="server", choices=("server", "client", "any"),
                       help="which messages count: server->client, client->server, or both"),
    "match": Param(str, default="", help="only messages whose content matches this regex count"),
}


class WsFault(Fault):
    params = COMMON
    h3 = "WebSocket sessions do not run over HTTP/3 (mitmproxy serves no extended CONNECT)"

    @classmethod
    def check(cls, params):
        try:
            re.compile(params.get("match", ""))
        except re.error as e:
            raise SpecError(f"match={params['match']!r}: not a regex ({e})") from None

    def counts(self, msg) -> bool:
        d = self.get("direction")
        if (d == "server" and msg.from_client) or (d == "client" and not msg.from_client):
            return False
        pattern = self.get("match")
        if not pattern:
            return True
        text = msg.content.decode("utf-8" if msg.is_text else "latin-1", "replace")
        return re.search(pattern, text) is not None

    async def websocket_message(self, flow, act):
        msg = flow.websocket.messages[-1]
        if not self.counts(msg):
            return
        seen = act.state.get("seen", 0)
        act.state["seen"] = seen + 1
        if seen < self.get("after_messages"):
            return
        if seen == self.get("after_messages"):
            act.record(ws_passed=seen, ws_direction=self.get("direction"))
        await self.act_on(flow, act, msg)

    async def act_on(self, flow, act, msg):
        raise NotImplementedError
