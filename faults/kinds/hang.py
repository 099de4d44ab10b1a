"""``hang [ms=N] [scope=connection|stream]``: hold the exchange until the client
gives up; with ``ms``, close the connection (FIN) after N ms instead, or with
``scope=stream`` on HTTP/2 reset only this request's stream (RST_STREAM NO_ERROR).
Released at shutdown."""

from faults.kinds import Fault, Param, register
from faults.kinds._cut import SCOPE, stream_scope


@register
class Hang(Fault):
    kind = "hang"
    summary = "never answer until the client gives up (or close after ms=N)"
    params = {"ms": Param(int, default=None, min=1, max=86_400_000, help="close after N ms"), "scope": SCOPE}

    async def request(self, flow, act):
        ms = self.get("ms")
        act.record(phase="before_response")
        if await act.hold_then_end(None if ms is None else ms / 1000) == "elapsed":
            if stream_scope(self, act):
                act.h2_frame(h2_frame="rst_stream", code=0, phase="before_response")
                act.end_stream()
                return
            act.end_connection("fin", "before_response", body_sent=0)
