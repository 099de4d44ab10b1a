"""``throttle bytes_per_s=N``: let the response out at N bytes per second.

The cap applies to the client connection while this response is being sent
(on HTTP/2 that includes other streams' bytes in the same window)."""

from faults.kinds import Fault, Param, register


@register
class Throttle(Fault):
    kind = "throttle"
    summary = "cap the response rate at N bytes/s"
    params = {"bytes_per_s": Param(int, min=1, max=10**10, help="bytes per second")}

    async def response(self, flow, act):
        act.record(phase="after_response")
        act.throttle(self.get("bytes_per_s"))
