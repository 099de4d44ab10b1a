"""``rst_stream code=C when=before_response|after_headers|mid_body [after_bytes=N]``:
RST_STREAM with code C on the selected request's stream; other streams on the
connection are untouched.

Also home of ``H2Fault``, the base of ``goaway`` and ``h2_violation``: code
parsing and the HTTP/1.1 fallback. On a flow that is not HTTP/2 (or whose
connection does not run the ``faults.wire.h2layer`` layer) there is no stream to
reset and no GOAWAY to send: these kinds then reset the TCP connection before
the response (whatever ``when`` says), log one line, and record
``fallback="tcp_reset"``; the classifier reports what k6 says for a reset.
"""

from __future__ import annotations

import logging

from faults.wire import h2layer
from faults.kinds import PHASES, Fault, Param, register
from faults.kinds._cut import Cutter
from faults.spec import SpecError

log = logging.getLogger(__name__)


def code_param(default: str = "INTERNAL_ERROR") -> Param:
    return Param(str, default=default, help="RFC 9113 error name (case-insensitive) or any integer")


def check_code(params: dict) -> None:
    if "code" in params:
        try:
            n = h2layer.parse_code(params["code"])
        except ValueError as e:
            raise SpecError(str(e)) from None
        params["code"] = h2layer.ERROR_NAMES.get(n, str(n))


class H2Fault(Fault):
    frame: str

    def code(self) -> int:
        return h2layer.parse_code(self.get("code"))

    def fallback(self, flow, act) -> None:
        """Not HTTP/2: a TCP RST before the response, whatever ``when`` says."""
        log.info(f"{self.kind}: {flow.request.http_version} flow has no HTTP/2 stream: TCP reset instead "
                 f"({flow.request.pretty_url})")
        act.record(h2_frame=self.frame, fallback="tcp_reset")
        act.end_connection("rst", "before_response", body_sent=0)

    @staticmethod
    def fell_back(flow) -> bool:
        return bool(flow.metadata.get("fault_wire", {}).get("fallback"))

    @staticmethod
    def swallow_body(flow, keep: int | None = 0) -> None:
        flow.response.stream = Cutter(keep)


@register
class RstStream(H2Fault):
    kind = "rst_stream"
    frame = "rst_stream"
    summary = "HTTP/2 RST_STREAM with a chosen error code at the chosen phase"
    params = {
        "code": code_param(),
        "when": Param(str, default="before_response", choices=PHASES),
        "after_bytes": Param(int, default=None, min=0, help="mid_body: body bytes to send first"),
    }

    @classmethod
    def check(cls, params):
        check_code(params)

    async def request(self, flow, act):
        if not h2layer.active(flow):
            return self.fallback(flow, act)
        code, when = self.code(), self.get("when")
        h2layer.set_action(flow, frame="rst_stream", code=code, when=when)
        act.record(h2_frame="rst_stream", code=code, code_name=h2layer.code_name(code), phase=when,
                   stream_id=h2layer.stream_id(flow))
        if when == "before_response":
            flow.kill()

    def responseheaders(self, flow, act):
        if self.fell_back(flow):
            return
        when = self.get("when")
        if when == "after_headers":
            self.swallow_body(flow, 0)
        elif when == "mid_body":
            keep = self.get("after_bytes")
            if keep is None:
                length = flow.response.headers.get("content-length", "")
                keep = max(1, int(length) // 2) if length.isdigit() and int(length) > 1 else None
            self.swallow_body(flow, keep)

    async def response(self, flow, act):
        if self.fell_back(flow) or not flow.killable:
            return
        act.record(body_sent=getattr(flow.response.stream, "sent", None))
        flow.kill()
