"""What a fault may do to a flow, and the record of what it did.

Fault kinds never touch mitmproxy internals directly: they call an ``Act``,
which goes through ``faults.wire.sockets`` and writes down what went out on the wire
in ``flow.metadata["fault_wire"]``. The classifier reads that record.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time

from faults import vocabulary
from faults.catalog.tables import H2_TO_H3, close_code_name, h2_name
from faults.wire import actions, ends, h2layer, h3layer, holds, sockets, wslayer
from faults.wire.actions import H2Action, H3Action, WsAction

log = logging.getLogger(__name__)
WIRE_KEY = vocabulary.WIRE
_pending: set[asyncio.Task] = set()


class Act:
    """``stopping`` is the injector's shutdown event: held flows end when it is set."""

    def __init__(self, flow, stopping: asyncio.Event, rng: random.Random):
        self.flow = flow
        self.stopping = stopping
        self.rng = rng
        self.state: dict = {}  # a kind's per-flow state (a rule's Fault instance serves many flows)
        # "response": the rule was decided at the upstream's response head (its filter reads the
        # response), so the fault's request-time actions happen with the answer in, not yet sent
        self.decided_at = "request"

    # -- the record --------------------------------------------------------
    def record(self, **facts) -> None:
        unknown = facts.keys() - vocabulary.WIRE_FIELDS
        if unknown:  # a programming error: a fact no classifier reads
            raise KeyError(f"not a wire record field (faults.vocabulary.WireRecord): {', '.join(sorted(unknown))}")
        self.flow.metadata.setdefault(WIRE_KEY, {}).update(facts)

    # -- ending the connection ---------------------------------------------
    def _end(self, how: str) -> bool:
        cut = holds.cut_by(self.flow)  # read before the end: the held flows notice it later
        self.record(ended_seq=ends.tick(), **({"cut_held": cut} if cut else {}))
        ends.mark(self.flow.client_conn.id, self.flow.id, conn_end=how)
        return sockets.reset(self.flow.client_conn) if how == "rst" else sockets.close(self.flow.client_conn)

    def end_connection(self, how: str, phase: str, body_sent: int | None = None) -> None:
        """``how`` is 'rst' or 'fin'. Kills the flow so mitmproxy sends nothing more.
        HTTP/3 has no TCP connection to reset or close: its QUIC connection ends with a
        CONNECTION_CLOSE instead (H3_INTERNAL_ERROR for an RST, H3_NO_ERROR for a FIN)."""
        if self.h3():
            self._h3(H3Action("connection_close", phase, code=0x102 if how == "rst" else 0x100),
                     body_sent=body_sent, instead_of=how)
            self.end_stream()
            return
        done = self._end(how)
        self.record(conn_end=how, phase=phase, body_sent=body_sent, conn_end_ok=done)
        if self.flow.killable:
            self.flow.kill()

    def end_connection_after_sent(self, how: str, phase: str, body_sent: int, body_announced: int) -> None:
        """Let mitmproxy send the (doctored) response as a complete message, then
        end the connection once its bytes have left. Recorded now: the classifier
        runs before mitmproxy writes the response."""
        self.record(conn_end=how, phase=phase, body_sent=body_sent, body_announced=body_announced)
        if self.h3():  # the stream ends (FIN) short of its Content-Length; the connection stays
            self.record(conn_end=None, h3_short_stream=True)
            return

        async def after_sent():
            await sockets.flushed(self.flow.client_conn)
            self._end(how)

        task = asyncio.get_running_loop().create_task(after_sent())
        _pending.add(task)  # asyncio keeps only weak references to tasks
        task.add_done_callback(_pending.discard)

    async def flushed(self) -> None:
        await sockets.flushed(self.flow.client_conn)

    # -- holding -------------------------------------------------------------
    def client_gone(self) -> bool:
        return sockets.client_gone(self.flow.client_conn) or sockets.stream_cancelled(self.flow)

    async def hold(self, seconds: float | None) -> str:
        """Wait ``seconds`` (None: forever) unless the client gives up or we
        shut down. Returns 'elapsed', 'client_gone' or 'stopping'."""
        with holds.holding(self.flow):
            return await self._hold(seconds)

    async def _hold(self, seconds: float | None) -> str:
        stop = self.stopping
        start = time.monotonic()
        while True:
            if self.client_gone():
                result = "client_gone"
                break
            if stop.is_set():
                result = "stopping"
                break
            left = None if seconds is None else seconds - (time.monotonic() - start)
            if left is not None and left <= 0:
                result = "elapsed"
                break
            try:
                await asyncio.wait_for(stop.wait(), timeout=min(0.05, left) if left is not None else 0.05)
            except asyncio.TimeoutError:
                pass
        self.record(held_ms=round((time.monotonic() - start) * 1000), hold_end=result)
        return result

    async def hold_then_end(self, seconds: float | None) -> str:
        """Hold the exchange; if it ended before ``seconds`` ran out (the client
        gave up, or the proxy is stopping), record why and kill the flow."""
        result = await self.hold(seconds)
        if result != "elapsed":
            self.record(client_gave_up=result == "client_gone", released_at_shutdown=result == "stopping")
            if self.flow.killable:
                self.flow.kill()
        return result

    def answer_early(self, data: bytes) -> bool:
        """Plain HTTP/1.1: the whole response ``data`` now, before the request body is
        read, then a lingering close (FIN; the body is still read). False on TLS."""
        return sockets.answer_early(self.flow.client_conn, data)

    def throttle_reads(self, bytes_per_s: int) -> bool:
        """Read this client's request (upload) at ``bytes_per_s``."""
        ok = sockets.throttle_reads(self.flow.client_conn, bytes_per_s)
        self.record(throttled_request_bytes_per_s=bytes_per_s if ok else None)
        return ok

    def unthrottle_reads(self) -> None:
        sockets.unthrottle_reads(self.flow.client_conn)

    def throttle(self, bytes_per_s: int) -> bool:
        if self.h3():  # no socket of its own: the HTTP/3 layer paces this stream's DATA
            actions.H3.set(self.flow, H3Action("pace", rate=bytes_per_s))
            self.record(throttled_bytes_per_s=bytes_per_s)
            return True
        ok = sockets.throttle(self.flow.client_conn, bytes_per_s)
        self.record(throttled_bytes_per_s=bytes_per_s if ok else None)
        return ok

    def stall(self, seconds: float | None) -> None:
        """Hold what mitmproxy writes to this client from now on, for ``seconds``
        (None: until the client goes away); on HTTP/2 see ``stall_stream``."""
        self.state["stall"] = (sockets.hold_writes(self.flow.client_conn, seconds), time.monotonic())

    def stall_stream(self, ms: int | None) -> bool:
        """HTTP/2: hold only this stream's response after its next data (the HTTP/2
        layer keeps its events), for ``ms`` or until the stream ends. False: not HTTP/2."""
        if self.h2_stream() is None:
            return False
        if self.h3():
            actions.H3.set(self.flow, H3Action("hold", "mid_body", hold_ms=ms))
            return True
        actions.H2.set(self.flow, H2Action("hold", "mid_body", hold_ms=ms))
        return True

    async def stall_over(self) -> str:
        """Wait until the stall ends: 'elapsed', 'client_gone' or 'stopping' (recorded)."""
        with holds.holding(self.flow):
            return await self._stall_over()

    async def _stall_over(self) -> str:
        held, start = self.state.get("stall", (None, time.monotonic()))
        result = "elapsed"
        while held is not None and not held.released.is_set():
            if self.client_gone():
                result = "client_gone"
                break
            if self.stopping.is_set():
                held.release()
                result = "stopping"
                break
            await asyncio.sleep(0.05)
        if held is not None and held.released.is_set() and self.client_gone():
            result = "client_gone"
        self.record(held_ms=round((time.monotonic() - start) * 1000), hold_end=result,
                    client_gave_up=result == "client_gone", released_at_shutdown=result == "stopping")
        return result

    # -- HTTP/2 frames (through faults.wire.h2layer) ---------------------------
    def h2_stream(self) -> int | None:
        """This flow's HTTP/2 (or HTTP/3) stream id when its connection runs our
        frame-capable layer; None otherwise (HTTP/1.1, or a connection set up before
        the addon). On HTTP/3, ``h2_frame`` asks for the HTTP/3 counterpart."""
        if self.h3():
            return h2layer.stream_id(self.flow)
        return h2layer.stream_id(self.flow) if h2layer.active(self.flow) else None

    # Each asks the HTTP/2 layer for frames on this stream (an ``H2Action``) and
    # records them under the same names. The layer fires at the action's phase,
    # or at ``end_stream()`` for an action that ends the stream. On HTTP/3: the
    # same frame in HTTP/3 (``h3_reset_stream``, ``h3_goaway``), the code mapped
    # (RFC 9114 A.4; ``code_h3``: chosen).
    def h2_rst_stream(self, code: int, phase: str, after_bytes: int | None = None, code_h3: int | None = None) -> None:
        """RST_STREAM ``code``; ``phase="mid_request"``: once ``after_bytes`` of the upload arrived
        (HTTP/3: the kind's request cutter counts the upload and asks at its point)."""
        if self.h3():
            return self.h3_reset_stream(H2_TO_H3.get(code, code) if code_h3 is None else code_h3, phase)
        self._h2(H2Action("rst_stream", phase, code=code, after_bytes=after_bytes or 0))

    def h2_goaway(self, code: int, last_stream: int, phase: str, then: str, stream_ended: bool) -> None:
        """GOAWAY ``code`` with ``last_stream``, then close or drain the connection."""
        if self.h3():
            self.h3_goaway(H2_TO_H3.get(code, code), last_stream + 4 if last_stream >= 0 else 0, phase, then,
                           stream_ended)
            self.record(last_stream=last_stream)
            return
        self._h2(H2Action("goaway", phase, code=code, last_stream=last_stream, then=then, stream_ended=stream_ended))

    def h2_violation(self, violation: str) -> None:
        """Break HTTP/2 this way before the response, then close (``faults.kinds.h2_violation``)."""
        if self.h3():
            raise AssertionError("no HTTP/3 counterpart for 'violation' (refused at selection)")
        self._h2(H2Action("violation", "before_response", violation=violation))

    def _h2(self, action: H2Action) -> None:
        actions.H2.set(self.flow, action)
        facts = action.facts()
        if "code" in facts:
            facts["code_name"] = h2_name(action.code)
        self.record(stream_id=h2layer.stream_id(self.flow), **facts)

    def h2_action(self) -> H2Action | None:
        """What this HTTP/2 stream asked the layer for; None: nothing (or HTTP/3: ``h3_action``)."""
        return None if self.h3() else actions.H2.of(self.flow)

    def h3_action(self) -> H3Action | None:
        """What this HTTP/3 stream asked the layer for; None: nothing."""
        return actions.H3.of(self.flow)

    def _stream_action(self) -> H2Action | H3Action | None:
        return self.h3_action() if self.h3() else actions.H2.of(self.flow)

    def ends_after_headers(self) -> bool:
        """The asked GOAWAY ends this stream right after its response headers."""
        a = self._stream_action()
        return a is not None and a.stream_ended and a.phase == "after_headers"

    def h2_fire_now(self) -> bool:
        """An upload cut (``phase="mid_request"``) whose body ended before ``after_bytes``:
        its frame goes out now, before the response. False: the layer fired it already."""
        action = actions.H2.of(self.flow)
        if action is not None and action.fired:
            return False
        if action is not None:
            action.phase = "before_response"
        self.record(phase="before_response")
        self.end_stream()
        return True

    def h2_cut_now(self) -> None:
        """A streamed cut reached its point: the layer fires after the stream's next data."""
        self._flag("cut_now")

    def h2_hold_now(self) -> None:
        """A stall (``stall_stream``) reached its point: after the stream's next data, hold the rest."""
        self._flag("hold_now")

    def _flag(self, name: str) -> None:
        """Set a flag of the action this stream asked for (HTTP/2 or HTTP/3); none asked: nothing."""
        action = self._stream_action()
        if action is not None:
            setattr(action, name, True)

    # -- HTTP/3 (through faults.wire.h3layer) ----------------------------------------
    def h3(self) -> bool:
        """This flow is HTTP/3 and its connection runs our HTTP/3 layer."""
        return h3layer.active(self.flow)

    # Each asks the HTTP/3 layer for frames on this stream or connection (an
    # ``H3Action``) and records them under the same names; as on HTTP/2, the layer
    # fires at the action's phase, or at ``end_stream()`` for one that ends the stream.
    def h3_reset_stream(self, code: int, phase: str) -> None:
        """RESET_STREAM with HTTP/3 ``code`` (and STOP_SENDING while the request is still arriving)."""
        self._h3(H3Action("reset_stream", phase, code=code, stop_sending=self.flow.request.timestamp_end is None))

    def h3_goaway(self, code: int, goaway_id: int, phase: str, then: str, stream_ended: bool) -> None:
        """GOAWAY with ``goaway_id`` (the first client stream not processed), then close the
        connection with ``code`` or let it drain."""
        self._h3(H3Action("goaway", phase, code=code, goaway_id=goaway_id, then=then, stream_ended=stream_ended))

    def h3_close(self, code: int, space: str, phase: str, reason: str = "") -> None:
        """CONNECTION_CLOSE with ``code``: a QUIC transport error (``space="transport"``) or an
        HTTP/3 application one (``"application"``)."""
        self._h3(H3Action("connection_close", phase, code=code, quic_error_space=space, reason=reason))

    def _h3(self, action: H3Action, **more) -> None:
        actions.H3.set(self.flow, action)
        facts = {**action.facts(), **more}
        facts["code_name"] = close_code_name(action.code, action.quic_error_space)
        self.record(stream_id=h2layer.stream_id(self.flow), **facts)

    def end_stream(self) -> None:
        """End this flow's stream now: the HTTP/2 layer turns the kill into the
        action's frames (instead of mitmproxy's own RST_STREAM)."""
        if self.flow.killable:
            self.flow.kill()

    # -- WebSocket sessions (through faults.wire.wslayer) ------------------------
    def ws_close(self, code: int, reason: str) -> bool:
        """Close the session with this code: the layer sends the frame when the
        current message hook returns."""
        if not self._ws_layer("ws_close"):
            return False
        actions.WS.set(self.flow, WsAction("close", code=code, reason=reason))
        self.record(ws_fault="close", ws_close_code=code, ws_close_reason=reason)
        return True

    def ws_corrupt(self, kind: str) -> bool:
        if not self._ws_layer("ws_corrupt"):
            return False
        actions.WS.set(self.flow, WsAction("corrupt", corrupt=kind))
        self.record(ws_fault="corrupt", ws_corrupt=kind)
        return True

    def _ws_layer(self, kind: str) -> bool:
        """Without our layer under the session (it started before the addon), a frame
        cannot be sent: end the connection with a FIN instead, and say so."""
        if wslayer.active(self.flow):
            return True
        log.warning(f"{kind}: no fault-capable WebSocket layer on {self.flow.request.pretty_url}: FIN instead")
        self.ws_end_connection("fin")
        return False

    def ws_stall(self, side: str) -> bool:
        """Hold every byte from ``side`` from now on (messages, close frames, its FIN)."""
        actions.WS.set(self.flow, WsAction(stall=side, fired=True))
        self.record(ws_fault="stall", ws_dropped=1)
        return wslayer.active(self.flow)

    def ws_end_connection(self, how: str) -> None:
        """RST or FIN on a WebSocket session, no close frame. The flow is not
        killed: mitmproxy ends the session once it sees the connection gone."""
        done = self._end(how)
        self.record(ws_fault="drop", conn_end=how, phase="websocket", conn_end_ok=done)

