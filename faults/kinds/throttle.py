"""``throttle bytes_per_s=N [direction=response|request]``: let the response out
at N bytes per second, or (``direction=request``) read the request body (an upload)
at N bytes per second.

The response cap applies to the client connection while this response is being
sent (on HTTP/2 that includes other streams' bytes in the same window); the request
cap to everything read from the client connection until the body is in.

On a byte stream (Toxiproxy's ``bandwidth``): the bytes leave at N bytes per second,
a tenth of a second's worth at a time, as Toxiproxy paces them."""

import asyncio
import time

from faults.kinds import Fault, Param, register


@register
class Throttle(Fault):
    kind = "throttle"
    summary = "cap the response rate (or the upload's, direction=request) at N bytes/s"
    params = {
        "bytes_per_s": Param(int, min=1, max=10**10, help="bytes per second"),
        "direction": Param(str, default="response", choices=("response", "request"),
                           help="request: pace reading the upload instead"),
    }

    def h3_refusal(self):
        if self.get("direction") == "request":
            return ("throttle direction=request paces reading the client's TCP socket; QUIC's counterpart, "
                    "flow-control credit, is granted by aioquic by itself (docs/http3.md)")
        return None  # HTTP/3: the HTTP/3 layer paces the stream's DATA

    @classmethod
    def level_for(cls, params):
        return "request_head" if params.get("direction") == "request" else cls.level

    def requestheaders(self, flow, act):
        act.record(phase="mid_request")
        act.throttle_reads(self.get("bytes_per_s"))

    async def request(self, flow, act):
        if self.get("direction") == "request":
            act.unthrottle_reads()  # the body is in

    async def response(self, flow, act):
        if self.get("direction") == "request":
            return
        act.record(phase="after_response")
        act.throttle(self.get("bytes_per_s"))

    async def byte_stream(self, act):
        rate = self.get("bytes_per_s")
        step = max(1, rate // 10)
        due = time.monotonic()
        while True:
            c = await act.next()
            if c.eof:
                return act.emit(c)
            while c.data:
                act.held = c  # the piece that waits included: a chain change loses no byte
                piece, c = c.split(step)
                due = max(due, time.monotonic()) + len(piece.data) / rate
                await asyncio.sleep(due - time.monotonic())
                act.emit(piece)
            act.held = None
