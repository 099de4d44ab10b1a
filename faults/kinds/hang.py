"""``hang [ms=N] [scope=connection|stream]``: hold the exchange until the client
gives up; with ``ms``, close the connection (FIN) after N ms instead, or with
``scope=stream`` on HTTP/2 reset only this request's stream (RST_STREAM NO_ERROR).
Released at shutdown.

With ``after_events=K`` / ``after_messages=K`` / ``after_bytes=N`` the response
streams through and the hang starts there: nothing more is sent (the rest of the
body is dropped) until the client gives up. (With ``ms``, a FIN N ms later made
mitmproxy's TLS layer crash when an HTTP/2 client answered the bare FIN with an
alert, so that combination is refused: ``close after_events=K`` ends at once.)

On a byte stream (Toxiproxy's ``timeout``): what arrives is dropped, never
answered; with ``ms`` the connection closes (FIN) N ms after the last chunk (each
chunk starts the wait again); taken off a live stream, it closes the connection."""

from faults.errors import SpecError
from faults.kinds import Fault, Param, register
from faults.kinds._cut import AFTER_EVENTS, AFTER_MESSAGES, SCOPE, Cutter, record_passed, stream_scope, streamed_cutter

STREAMED = ("after_events", "after_messages", "after_bytes")


@register
class Hang(Fault):
    kind = "hang"
    summary = "never answer until the client gives up (or close after ms=N)"
    params = {"ms": Param(int, default=None, min=1, max=86_400_000, help="close after N ms"), "scope": SCOPE,
              "after_events": AFTER_EVENTS, "after_messages": AFTER_MESSAGES,
              "after_bytes": Param(int, default=None, min=0, help="body bytes to send first")}

    @classmethod
    def check(cls, params):
        n = sum(params.get(k) is not None for k in STREAMED)
        if n > 1:
            raise SpecError("hang takes at most one of after_events, after_messages, after_bytes")
        if n and (params.get("scope") == "stream" or params.get("ms") is not None):
            raise SpecError("hang after_events/after_messages/after_bytes takes neither ms nor scope: it holds "
                            "until the client gives up (for a pause use stall ms=N, for an end close after_events=N)")

    def streamed(self) -> bool:
        return any(self.get(k) is not None for k in STREAMED)

    def responseheaders(self, flow, act):
        if not self.streamed():
            return
        def start(cutter):
            record_passed(act, cutter)
            act.record(phase="mid_body", body_sent=cutter.sent, stalled=True)

        flow.response.stream = streamed_cutter(flow, self, start) or Cutter(self.get("after_bytes") or 0, start)

    async def request(self, flow, act):
        if self.streamed():
            return
        ms = self.get("ms")
        act.record(phase="before_response")
        if await act.hold_then_end(None if ms is None else ms / 1000) == "elapsed":
            if stream_scope(self, act):
                act.h2_rst_stream(0, "before_response")
                act.end_stream()
                return
            act.end_connection("fin", "before_response", body_sent=0)

    async def byte_stream(self, act):
        ms = self.get("ms")
        while True:
            c = await act.next(None if ms is None else ms / 1000)
            if c is None:
                return act.close()
            if c.eof:
                return act.emit(c)
            act.drop(c)

    def byte_stream_removed(self, act):
        act.close()  # Toxiproxy's timeout Cleanup too: the connections it held end
