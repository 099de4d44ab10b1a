"""``truncate [keep=N] [scope=connection|stream]``: announce the full
Content-Length, send only ``keep`` body bytes (default half), then close the
connection; with ``scope=stream`` on HTTP/2, end only this request's stream
there (END_STREAM short of the announced body; see ``_cut.py``)."""

from faults.kinds import Fault, Param, register
from faults.kinds._cut import SCOPE, stream_scope


@register
class Truncate(Fault):
    kind = "truncate"
    summary = "announce Content-Length, send fewer bytes, then close"
    params = {"keep": Param(int, default=None, min=0, help="body bytes to send"), "scope": SCOPE}

    async def response(self, flow, act):
        body = flow.response.raw_content or b""
        announced = max(len(body), 1)
        keep = self.get("keep")
        keep = len(body) // 2 if keep is None else min(keep, announced - 1)
        flow.response.headers.pop("transfer-encoding", None)
        flow.response.headers["content-length"] = str(announced)
        flow.response.raw_content = body[:keep]
        if stream_scope(self, act):
            act.record(phase="mid_body", body_sent=keep, body_announced=announced)
            return
        act.end_connection_after_sent("fin", "mid_body", body_sent=keep, body_announced=announced)
