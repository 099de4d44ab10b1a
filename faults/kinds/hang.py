"""``hang [ms=N]``: hold the exchange until the client gives up; with ``ms``,
close the connection (FIN) after N ms instead. Released at shutdown."""

from faults.kinds import Fault, Param, register


@register
class Hang(Fault):
    kind = "hang"
    summary = "never answer until the client gives up (or close after ms=N)"
    params = {"ms": Param(int, default=None, min=1, max=86_400_000, help="close after N ms")}

    async def request(self, flow, act):
        ms = self.get("ms")
        act.record(phase="before_response")
        if await act.hold_then_end(None if ms is None else ms / 1000) == "elapsed":
            act.end_connection("fin", "before_response", body_sent=0)
