"""``rst_stream code=C when=mid_request|before_response|after_headers|mid_body [after_bytes=N]``:
RST_STREAM with code C on the selected request's stream; other streams on the
connection are untouched. HTTP/1.1 flows: TCP reset (see ``_h2.py``).

``when=mid_request``: during the upload, once ``after_bytes`` of the request body
(default half its Content-Length) arrived (the HTTP/2 layer counts and fires).
"""

from __future__ import annotations

from faults.kinds import PHASES, Param, register
from faults.kinds._cut import (AFTER_EVENTS, AFTER_MESSAGES, RequestCutter, StreamRequestCutter, check_streamed,
                             keep_for, request_keep, streamed_cutter)
from faults.kinds._h2 import H2Fault, check_code, code_param


@register
class RstStream(H2Fault):
    kind = "rst_stream"
    frame = "rst_stream"
    summary = "HTTP/2 RST_STREAM with a chosen error code at the chosen phase"
    params = {
        "code": code_param(),
        "when": Param(str, default="before_response", choices=("mid_request",) + PHASES),
        "after_bytes": Param(int, default=None, min=0,
                             help="mid_body: response body bytes to send first; mid_request: request body bytes"),
        "after_events": AFTER_EVENTS,
        "after_messages": AFTER_MESSAGES,
    }

    @classmethod
    def check(cls, params):
        check_code(params)
        check_streamed(params)

    @classmethod
    def level_for(cls, params):
        return "request_head" if params.get("when") == "mid_request" else cls.level

    def requestheaders(self, flow, act):
        keep = request_keep(flow, self.get("after_bytes"))
        if act.h2_stream() is None:  # HTTP/1.1: a TCP reset at the same point of the upload
            act.record(fallback="tcp_reset")
            flow.request.stream = RequestCutter(_TcpReset(), act, keep)
            return
        if act.h3():  # HTTP/3: the body arrives through mitmproxy's request stream
            flow.request.stream = StreamRequestCutter(act, keep, self.code(), self.code_h3())
            return
        act.h2_rst_stream(self.code(), "mid_request", after_bytes=keep, code_h3=self.code_h3())

    async def request(self, flow, act):
        when = self.get("when")
        if when == "mid_request":
            if act.h2_stream() is None or act.h3():
                cutter = flow.request.stream
                if isinstance(cutter, RequestCutter) and not cutter.fired:
                    cutter.fire("before_response")
            else:
                act.h2_fire_now()  # when the body was shorter than after_bytes
            return
        if act.h2_stream() is None:
            return self.fallback(flow, act)
        act.h2_rst_stream(self.code(), when, code_h3=self.code_h3())
        if when == "before_response":
            act.end_stream()

    def responseheaders(self, flow, act):
        if self.fell_back(flow):
            return
        when = self.get("when")
        if when == "after_headers":
            self.swallow_body(flow, 0)
        elif when == "mid_body":
            cutter = streamed_cutter(flow, self, lambda c: self.cut_now(act, c))
            if cutter is not None:
                flow.response.stream = cutter
            else:
                self.swallow_body(flow, keep_for(flow, self.get("after_bytes")))

    async def response(self, flow, act):
        if self.fell_back(flow) or not flow.killable:
            return
        if getattr(flow.response.stream, "on_cut", None) is not None and flow.response.stream.fired:
            return  # reset as its part went out
        act.record(body_sent=getattr(flow.response.stream, "sent", None))
        act.end_stream()


class _TcpReset:
    """What ``RequestCutter`` needs of a fault: an RST on the connection."""
    how = "rst"
