"""``goaway code=C last_stream=this|below|N when=before_response|after_headers|after_response
then=close|drain``: a GOAWAY frame on the selected request's connection.

- ``last_stream=this``: the selected stream may have been processed;
  ``below``: it was not (stream id - 2), so a client may retry it; ``N``: that number.
- ``then=close``: the connection closes right after the GOAWAY (streams still
  open end with it); ``then=drain``: streams at or below last_stream finish,
  then the connection closes; streams above it are never answered.
- The selected stream ends at the GOAWAY (no RST) when it cannot finish: with
  ``then=close``, or when it is above last_stream; otherwise it completes.
- ``after_events=N`` (SSE) / ``after_messages=N`` (gRPC) / ``after_bytes=N``: the
  response streams through and the GOAWAY (then close) follows the Nth event.
HTTP/1.1 flows: TCP reset (see ``_h2.py``).
"""

from faults.kinds import Param, register
from faults.kinds._cut import AFTER_EVENTS, AFTER_MESSAGES, Cutter, streamed_cutter
from faults.kinds._h2 import H2Fault, check_code, code_param
from faults import numbers
from faults.errors import SpecError

WHEN = ("before_response", "after_headers", "mid_body", "after_response")


@register
class GoAway(H2Fault):
    kind = "goaway"
    frame = "goaway"
    summary = "HTTP/2 GOAWAY with a chosen code and last_stream_id, then close or drain"
    params = {
        "code": code_param("NO_ERROR"),
        "last_stream": Param(str, default="this", help="this | below | N"),
        "when": Param(str, default="before_response", choices=WHEN),
        "then": Param(str, default="close", choices=("close", "drain")),
        "after_events": AFTER_EVENTS,
        "after_messages": AFTER_MESSAGES,
        "after_bytes": Param(int, default=None, min=0, help="body bytes to send first"),
    }

    @classmethod
    def check(cls, params):
        check_code(params)
        ls = str(params.get("last_stream", "this")).lower()
        if ls not in ("this", "below"):
            if not numbers.is_whole_text(ls):
                raise SpecError(f"last_stream={numbers.shown(ls)}: expected this, below or a stream number "
                                f"({numbers.RULE})")
            ls = str(numbers.whole(ls, "last_stream", 0, 2**31 - 1))
        if "last_stream" in params:
            params["last_stream"] = ls
        streamed = any(params.get(k) is not None for k in ("after_events", "after_messages", "after_bytes"))
        if streamed or params.get("when") == "mid_body":
            if not streamed or params.get("then", "close") != "close" or params.get("when", "mid_body") != "mid_body":
                raise SpecError("a mid-stream GOAWAY needs after_events, after_messages or after_bytes, and "
                                "then=close (no other when)")
            params["when"] = "mid_body"

    def last_for(self, sid: int) -> int:
        ls = self.get("last_stream")
        if ls == "this":
            return sid
        if ls == "below":
            return max(0, sid - 2)
        return int(ls)

    async def request(self, flow, act):
        sid = act.h2_stream()
        if sid is None:
            return self.fallback(flow, act)
        when, then = self.get("when"), self.get("then")
        if act.h3():
            return self._h3(act, sid, when, then)
        sid = sid or 1
        last = self.last_for(sid)
        ending = when != "after_response" and (then == "close" or sid > last)
        act.h2_goaway(self.code(), last, when, then, stream_ended=ending)
        if ending and when == "before_response":
            act.end_stream()

    def _h3(self, act, sid: int, when: str, then: str) -> None:
        """HTTP/3: a GOAWAY carries the first client stream id not processed (RFC 9114
        5.2); ``code`` is that of the CONNECTION_CLOSE that ``then=close`` sends."""
        ls = self.get("last_stream")
        gid = sid + 4 if ls == "this" else sid if ls == "below" else int(ls)
        ending = when != "after_response" and (then == "close" or sid >= gid)
        act.h3_goaway(self.code_h3(), gid, when, then, stream_ended=ending)
        if ending and when == "before_response":
            act.end_stream()

    def responseheaders(self, flow, act):
        if self.fell_back(flow):
            return
        if self.get("when") == "mid_body":
            on_cut = lambda c: self.cut_now(act, c)  # noqa: E731
            flow.response.stream = streamed_cutter(flow, self, on_cut) or Cutter(self.get("after_bytes") or 0, on_cut)
        elif act.ends_after_headers():
            self.swallow_body(flow, 0)

    async def response(self, flow, act):
        if self.get("when") == "mid_body":
            if not getattr(flow.response.stream, "fired", True) and flow.killable:
                act.end_stream()  # fewer than N: the GOAWAY at the end of the body
            return
        if act.ends_after_headers():
            act.end_stream()
