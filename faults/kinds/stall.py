"""``stall [ms=N] after_events=K|after_messages=K|after_bytes=N``: stream the response
through, and once K whole events (text/event-stream), K gRPC messages or N body
bytes have reached the client,
pause it: for ``ms`` (then the rest follows), or until the client gives up.
On HTTP/1.1 the pause holds the client connection's writes; on HTTP/2 the HTTP/2
layer holds this stream's response events only (the other streams go on).

On a byte stream (Toxiproxy's ``bandwidth`` at rate 0): ``after_bytes`` pass, then
the data is held for ``ms`` (or until the fault is taken off: then it goes on, in
order); an end of the stream with nothing held passes."""

from __future__ import annotations

import asyncio

from faults.errors import SpecError
from faults.kinds import Fault, Param, register
from faults.kinds._cut import AFTER_EVENTS, AFTER_MESSAGES, Cutter, grpc_end, sse_end


class _Pauser(Cutter):
    """Passes the body through; once ``events`` whole events (or ``keep`` bytes) are
    out, calls ``on_cut`` and keeps the rest of that chunk for the next call, so
    the pause starts exactly at the boundary."""

    def __init__(self, events: int | None, keep: int | None, on_cut, end=sse_end):
        super().__init__(keep, on_cut)
        self.events, self.passed, self.buf, self.end = events, 0, b"", end
        self.pending = None  # the pause, scheduled to start once the part before it is written

    def start_pending(self) -> None:
        start, self.pending = self.pending, None
        if start is not None:
            start(self)

    def __call__(self, chunk: bytes) -> bytes:
        if self.fired:
            # The part before the pause is written by now: when the upstream's next chunk (or
            # its end) comes in the same turn of the loop as the part (chunks that arrived
            # together, under load), the pause must start before this chunk is written, not
            # after (the client once saw a 4th event past after_events=3).
            self.start_pending()
            out, self.buf = self.buf + chunk, b""
            return self.out(out)
        self.buf += chunk
        if self.events is None:
            n = max(0, self.keep - self.sent)
        else:
            n = 0
            while self.passed < self.events and (e := self.end(self.buf, n)) is not None:
                n = e
                self.passed += 1
        out, self.buf = self.buf[:n], self.buf[n:]
        self.sent += len(out)
        if (self.passed >= self.events) if self.events is not None else (self.sent >= self.keep):
            self.cut()
        return self.out(out)


def pauser(fault, act, start, now=None) -> _Pauser:
    """A _Pauser for ``fault``'s after_events/after_messages/after_bytes that records
    where it paused and calls ``start(cutter)`` once that part has been written (or
    ``now(cutter)`` at once, before the part is handed on)."""
    def pause(cutter):
        if cutter.end is grpc_end:
            act.record(messages_sent=cutter.passed, after_messages=cutter.events)
        elif cutter.events is not None:
            act.record(events_sent=cutter.passed, after_events=cutter.events)
        act.record(phase="mid_body", body_sent=cutter.sent, stalled=True)
        if now is not None:
            now(cutter)
        else:  # soon, not now: the bytes returned with this call are written first
            cutter.pending = start
            asyncio.get_running_loop().call_soon(cutter.start_pending)

    grpc = fault.get("after_messages") is not None
    events = fault.get("after_messages") if grpc else fault.get("after_events")
    return _Pauser(events, fault.get("after_bytes"), pause, end=grpc_end if grpc else sse_end)


@register
class Stall(Fault):
    kind = "stall"
    summary = "pause a streamed response after K events or N bytes, for ms=N or until the client gives up"
    params = {
        "ms": Param(int, default=None, min=1, max=86_400_000, help="pause length (default: until the client gives up)"),
        "after_events": AFTER_EVENTS,
        "after_messages": AFTER_MESSAGES,
        "after_bytes": Param(int, default=None, min=0, help="body bytes to send first"),
    }

    @classmethod
    def check(cls, params):
        if sum(params.get(k) is not None for k in ("after_events", "after_messages", "after_bytes")) != 1:
            raise SpecError("stall needs exactly one of after_events=K (SSE), after_messages=K (gRPC) or after_bytes=N")

    def acts_on_response_head(self) -> bool:
        return True  # a pause in a streamed body, always

    def responseheaders(self, flow, act):
        ms = self.get("ms")
        if act.stall_stream(ms):
            # HTTP/2: this stream only, in the HTTP/2 layer (siblings on the connection go on)
            def on_h2(cutter):
                act.h2_hold_now()
                cutter.wake = True

            flow.response.stream = pauser(self, act, None, now=on_h2)
            return
        flow.response.stream = pauser(self, act, lambda cutter: act.stall(None if ms is None else ms / 1000))

    async def response(self, flow, act):
        if getattr(flow.response.stream, "fired", False):
            await act.stall_over()

    async def byte_stream(self, act):
        left = self.get("after_bytes") or 0
        while True:
            c = await act.next()
            if c.eof:
                return act.emit(c)
            head, c = c.split(left)
            left -= len(head.data)
            if head.data:
                act.emit(head)
            if c.data:
                act.held = c
                await act.pause(None if self.get("ms") is None else self.get("ms") / 1000)
                act.held = None
                act.emit(c)
                return await act.relay()  # one pause, then the rest flows
