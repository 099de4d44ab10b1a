"""``delay ms=N [jitter_ms=M] [when=request|response]``: hold the exchange N±M ms
before forwarding the request (or before sending the response). Other flows
are never blocked: the hook awaits, it does not sleep the event loop.

On a byte stream (Toxiproxy's ``latency``): each chunk leaves N±M ms after it
arrived, pipelined (a chunk that waits never holds the next one's clock)."""

import asyncio
import time

from faults.kinds import Fault, Param, register


@register
class Delay(Fault):
    kind = "delay"
    summary = "wait N±M ms before forwarding the request or before the response"
    params = {
        "ms": Param(int, min=0, max=3_600_000, help="delay in milliseconds"),
        "jitter_ms": Param(int, default=0, min=0, max=3_600_000, help="uniform ± jitter"),
        "when": Param(str, default="request", choices=("request", "response")),
    }

    def _ms(self, act) -> float:
        jitter = self.get("jitter_ms")
        return max(0.0, self.get("ms") + (act.rng.uniform(-jitter, jitter) if jitter else 0.0))

    async def _wait(self, flow, act, phase):
        if act.decided_at == "response":  # a response rule: the request is long gone
            phase = "before_response"
        ms = self._ms(act)
        act.record(phase=phase, delay_ms=round(ms, 1))
        if await act.hold(ms / 1000) == "client_gone":
            act.record(client_gave_up=True)
            if flow.killable:
                flow.kill()

    async def request(self, flow, act):
        if self.get("when") == "request":
            await self._wait(flow, act, "before_request_forwarded")

    async def response(self, flow, act):
        if self.get("when") == "response":
            await self._wait(flow, act, "before_response")

    async def byte_stream(self, act):
        while True:
            c = await act.next()
            if c.eof:
                return act.emit(c)
            act.held = c
            await asyncio.sleep(max(0.0, self._ms(act) / 1000 - (time.monotonic() - c.ts)))
            act.held = None
            c.ts = time.monotonic()  # a second delay adds its own
            act.emit(c)
