"""Shared by ``reset`` and ``close``: end the client connection at a phase.

``scope=connection`` (the default: a TCP-level fault, as Toxiproxy and a real
network give it) ends the whole connection, and on HTTP/2 every other stream
on it (each annotated with what its client saw). ``scope=stream`` fails only
this request on HTTP/2, with the nearest single-stream equivalent: ``reset``
sends RST_STREAM INTERNAL_ERROR; ``close`` ends the stream short (the head, then
END_STREAM before the announced body is complete), or RST_STREAM NO_ERROR when
no head was sent. On HTTP/1.1 one request owns the connection: both scopes cut it.

- mid_request:     during the upload: ``after_bytes`` of the request body (default
                   half its Content-Length) are read and forwarded, then the
                   connection ends while the client is still writing. Chosen at
                   the request head and the request streamed (``RequestCutter``).
- before_response: the request is not forwarded; the connection ends at once.
- after_headers:   the response head goes out, then the connection ends.
- mid_body:        part of the body (``after_bytes``, default half of the
                   announced length) goes out, then the connection ends.

The response is streamed through a ``Cutter`` so the head leaves as soon as
it arrives and the body stops at the cut; when the whole upstream response is
in (``response`` hook), we wait until the kept bytes have left and end the
connection; ``flow.kill()`` stops mitmproxy from finishing the message.

On a byte stream (Toxiproxy's ``reset_peer`` and ``limit_data``), ``before_response``
ends the connection at the first chunk (or end of stream), nothing passed; any
other phase lets ``after_bytes`` pass (default 0; counted across updates of the
toxic, in ``act.state``), then ends it; a stream that ends first is passed on.
"""

from __future__ import annotations

import asyncio
import re

from faults import numbers
from faults.errors import SpecError
from faults.kinds import PHASES, Fault, Param

EVENT_END = re.compile(rb"\r?\n\r?\n")  # a blank line ends a text/event-stream event
_tasks: set = set()


class Cutter:
    """A response ``stream`` callable that lets ``keep`` body bytes through; with
    ``on_cut``, called once when they are out (a stream cut where it is, not when
    the upstream ends)."""

    def __init__(self, keep: int | None, on_cut=None):
        self.keep = keep
        self.sent = 0
        self.on_cut = on_cut
        self.fired = False
        self.wake = False  # pass one empty chunk: an HTTP/2 cut fires on the stream's next data

    def out(self, data: bytes):
        """Nothing is ``[]``, not ``b""``: on a chunked HTTP/1.1 response mitmproxy writes
        an empty chunk as the last-chunk marker, which would end the body cleanly."""
        if data:
            return data
        wake, self.wake = self.wake, False
        return [b""] if wake else []

    def __call__(self, chunk: bytes) -> bytes:
        if self.keep is None and chunk:
            self.keep = max(1, len(chunk) // 2)  # length unknown: half the first chunk
        room = max(0, (self.keep or 0) - self.sent)
        out = chunk[:room]
        self.sent += len(out)
        if self.keep is not None and self.sent >= self.keep:
            self.cut()
        return self.out(out)

    def cut(self) -> None:
        if not self.fired:
            self.fired = True
            if self.on_cut:
                self.on_cut(self)


def sse_end(buf: bytes, start: int) -> int | None:
    """Where the server-sent event starting at ``start`` ends (after its blank line)."""
    m = EVENT_END.search(buf, start)
    return m.end() if m else None


def grpc_end(buf: bytes, start: int) -> int | None:
    """Where the length-prefixed gRPC message starting at ``start`` ends."""
    if len(buf) < start + 5:
        return None
    end = start + 5 + int.from_bytes(buf[start + 1:start + 5], "big")
    return end if end <= len(buf) else None


class EventCutter(Cutter):
    """Lets ``events`` whole server-sent events (or gRPC messages: ``end=grpc_end``)
    through, each as it comes, then nothing: the cut is at a message boundary."""

    def __init__(self, events: int, on_cut=None, end=sse_end):
        super().__init__(None, on_cut)
        self.events, self.passed, self.buf, self.end = events, 0, b"", end

    def __call__(self, chunk: bytes):
        if self.fired:
            return []
        self.buf += chunk
        out = b""
        while self.passed < self.events and (n := self.end(self.buf, 0)) is not None:
            out, self.buf = out + self.buf[:n], self.buf[n:]
            self.passed += 1
        self.sent += len(out)
        if self.passed >= self.events:
            self.buf = b""
            self.cut()
        return self.out(out)


def streamed_cutter(flow, fault, on_cut) -> Cutter | None:
    """For ``after_events`` (a text/event-stream), ``after_messages`` (a gRPC stream)
    or ``after_bytes`` on a body of unknown length: a cutter that acts as soon as its
    part is out (a stream may run for minutes). None: cut the usual way, when the
    upstream body is in."""
    events, after_bytes = fault.get("after_events"), fault.get("after_bytes")
    messages = fault.get("after_messages") if "after_messages" in fault.params else None
    ctype = flow.response.headers.get("content-type", "")
    if events is not None and ctype.startswith("text/event-stream"):
        return EventCutter(events, on_cut)
    if messages is not None and ctype.startswith("application/grpc"):
        return EventCutter(messages, on_cut, end=grpc_end)
    if events is not None or messages is not None or (
            after_bytes is not None and "content-length" not in flow.response.headers):
        return Cutter(after_bytes if after_bytes is not None else 0, on_cut)  # not SSE: after_bytes, else at once
    return None


def record_passed(act, cutter) -> None:
    if isinstance(cutter, EventCutter):
        if cutter.end is grpc_end:
            act.record(messages_sent=cutter.passed, after_messages=cutter.events)
        else:
            act.record(events_sent=cutter.passed, after_events=cutter.events)


def cut_stream_now(act, cutter) -> None:
    """A streamed cutter reached its point on an HTTP/2 (or HTTP/3) stream: the layer sends
    the kind's frame right after the data that went out."""
    record_passed(act, cutter)
    act.record(body_sent=cutter.sent)
    act.h2_cut_now()
    cutter.wake = True


def later(coro) -> None:
    task = asyncio.get_running_loop().create_task(coro)
    _tasks.add(task)  # asyncio keeps only weak references to tasks
    task.add_done_callback(_tasks.discard)


def check_streamed(params: dict) -> None:
    """``after_events`` means mid-body: it sets ``when`` (and refuses another phase);
    ``after_bytes`` without a ``when`` means mid-body too (so does ``after_messages``)."""
    if params.get("after_bytes") is not None and "when" not in params:
        params["when"] = "mid_body"
    for key in ("after_events", "after_messages"):
        if params.get(key) is not None:
            if params.get("when", "mid_body") != "mid_body":
                raise SpecError(f"{key} needs when=mid_body (got when={params['when']})")
            params["when"] = "mid_body"


AFTER_EVENTS = Param(int, default=None, min=0, help="text/event-stream: whole events to send first (implies mid_body)")
AFTER_MESSAGES = Param(int, default=None, min=0, help="gRPC stream: whole messages to send first (implies mid_body)")


class RequestCutter:
    """A request ``stream`` callable: forwards ``keep`` body bytes, then ends the
    client connection (the client is still writing its upload)."""

    def __init__(self, fault, act, keep: int):
        self.fault, self.act, self.keep = fault, act, keep
        self.seen = 0
        self.fired = False

    def __call__(self, chunk: bytes) -> bytes:
        if self.fired:
            return b""
        out = chunk[:max(0, self.keep - self.seen)]
        self.seen += len(out)
        if self.seen >= self.keep and chunk:
            self.fire("mid_request")
        return out

    def fire(self, phase: str) -> None:
        self.fired = True
        self.act.record(request_body_received=self.seen,
                        request_body_announced=numbers.header_length(
                            self.act.flow.request.headers.get("content-length")))
        self.act.end_connection(self.fault.how, phase, body_sent=0)


class StreamRequestCutter(RequestCutter):
    """HTTP/3 ``when=mid_request`` on one stream: at ``keep`` request body bytes, RESET_STREAM
    and STOP_SENDING with ``code`` (an HTTP/2 code, mapped, or ``code_h3``) while the client
    is still sending; the connection and its other streams go on."""

    def __init__(self, act, keep: int, code: int, code_h3: int | None = None):
        super().__init__(None, act, keep)
        self.code, self.code_h3 = code, code_h3

    def fire(self, phase: str) -> None:
        self.fired = True
        length = self.act.flow.request.headers.get("content-length", "")
        self.act.record(request_body_received=self.seen,
                        request_body_announced=int(length) if length.isdigit() else None)
        self.act.h2_rst_stream(self.code, phase, code_h3=self.code_h3)
        self.act.end_stream()


SCOPE = Param(str, default="connection", choices=("connection", "stream"),
              help="HTTP/2: end the whole connection, or only this request's stream")


def stream_scope(fault, act) -> bool:
    """This fault is to end only the flow's HTTP/2 stream (and the flow is one)."""
    return fault.get("scope") == "stream" and act.h2_stream() is not None


def request_keep(flow, after_bytes: int | None) -> int:
    """Request body bytes to read before an upload cut: ``after_bytes``, else half
    the announced length (1 when unknown)."""
    if after_bytes is not None:
        return after_bytes
    length = numbers.header_length(flow.request.headers.get("content-length"))
    return max(1, length // 2) if length is not None and length > 1 else 1


def keep_for(flow, after_bytes: int | None) -> int | None:
    """Body bytes to let through before a mid-body cut: ``after_bytes``, else half
    the announced length (None: unknown, half the first chunk)."""
    if after_bytes is not None:
        return after_bytes
    length = numbers.header_length(flow.response.headers.get("content-length"))
    return max(1, length // 2) if length is not None and length > 1 else None


class ConnectionCut(Fault):
    how: str  # "rst" or "fin"
    params = {
        "when": Param(str, default="before_response", choices=PHASES + ("mid_request",)),
        "after_bytes": Param(int, default=None, min=0,
                             help="mid_body: response body bytes to send first; mid_request: request body bytes to read"),
        "after_events": AFTER_EVENTS,
        "after_messages": AFTER_MESSAGES,
        "scope": SCOPE,
    }

    @classmethod
    def check(cls, params):
        check_streamed(params)
        streamed = params.get("after_events") is not None or params.get("after_messages") is not None
        if streamed and cls.how == "fin" and params.get("scope") == "stream":
            raise SpecError("close scope=stream after_events/after_messages: an HTTP/2 stream cut at a message "
                            "boundary is rst_stream after_events=N (or reset scope=stream)")

    def _stream_code(self, act) -> int | None:
        """scope=stream on an HTTP/2 flow: the RST_STREAM code that stands in for the
        connection's end (None: close after the head, which ends the stream short)."""
        if self.how == "rst":
            return 0x2  # INTERNAL_ERROR
        return 0x0 if self.get("when") == "before_response" else None  # NO_ERROR

    @classmethod
    def level_for(cls, params):
        return "request_head" if params.get("when") == "mid_request" else cls.level

    def requestheaders(self, flow, act):
        keep = request_keep(flow, self.get("after_bytes"))
        if stream_scope(self, act) and act.h3():  # HTTP/3: the cut resets this stream only
            flow.request.stream = StreamRequestCutter(act, keep, 0x2 if self.how == "rst" else 0x0)
            return
        if stream_scope(self, act):  # the HTTP/2 layer resets the stream at ``keep`` bytes
            act.h2_rst_stream(0x2 if self.how == "rst" else 0x0, "mid_request", after_bytes=keep)
            return
        flow.request.stream = RequestCutter(self, act, keep)

    async def request(self, flow, act):
        when = self.get("when")
        if when == "mid_request":
            if stream_scope(self, act) and not act.h3():
                act.h2_fire_now()  # when the body was shorter than after_bytes
                return
            cutter = flow.request.stream
            if isinstance(cutter, RequestCutter) and not cutter.fired:
                cutter.fire("before_response")  # the body was shorter than after_bytes
            return
        if stream_scope(self, act):
            code = self._stream_code(act)
            if code is not None:
                act.h2_rst_stream(code, when)
                if when == "before_response":
                    act.end_stream()
            return
        if when == "before_response":
            if flow.request.http_version.startswith("HTTP/2"):
                # Go's HTTP/2 client writes on its own (SETTINGS ACK, WINDOW_UPDATE);
                # an RST that lands during such a write is consumed by the write and
                # the read loop then reports a plain EOF. Let those writes settle.
                await act.flushed()
            act.end_connection(self.how, "before_response", body_sent=0)

    def responseheaders(self, flow, act):
        when = self.get("when")
        if when in ("before_response", "mid_request"):
            return
        if when == "mid_body":
            cutter = streamed_cutter(flow, self, lambda c: self._cut_now(flow, act, c))
            if cutter is not None:
                flow.response.stream = cutter
                return
        keep = 0 if when == "after_headers" else keep_for(flow, self.get("after_bytes"))
        flow.response.stream = Cutter(keep)

    def _cut_now(self, flow, act, cutter) -> None:
        """A streamed body's part is out: end the stream or connection now."""
        if stream_scope(self, act):
            cut_stream_now(act, cutter)  # the HTTP/2 layer resets the stream after this data
            return
        record_passed(act, cutter)

        async def end():
            await act.flushed()
            act.end_connection(self.how, "mid_body", body_sent=cutter.sent)

        later(end())

    async def byte_stream(self, act):
        if self.get("when") == "before_response":
            c = await act.next()
            act.drop(c)
            return act.end(self.how)
        keep = self.get("after_bytes") or 0
        while True:
            c = await act.next()
            if c.eof:
                return act.emit(c)
            c, rest = c.split(max(0, keep - act.state))
            act.drop(rest)  # past the limit
            if c.data:
                act.state += len(c.data)
                act.emit(c)
            if act.state >= keep:
                return act.end(self.how)

    async def response(self, flow, act):
        if getattr(flow.response.stream, "on_cut", None) is not None:
            return  # a streamed cut: it acted (or acts) as its part went out
        if stream_scope(self, act):
            sent = getattr(flow.response.stream, "sent", None)
            if self._stream_code(act) is None:
                # the stream ends where the cut is, its Content-Length unmet: a short
                # body on this request only
                act.record(phase=self.get("when"), body_sent=sent,
                           body_announced=numbers.header_length(flow.response.headers.get("content-length")))
            elif self.get("when") != "before_response" and flow.killable:
                act.record(body_sent=sent)
                act.end_stream()
            return
        when = self.get("when")
        if when in ("before_response", "mid_request"):
            return
        cutter = flow.response.stream
        if isinstance(cutter, Cutter):
            await act.flushed()
            act.end_connection(self.how, when, body_sent=cutter.sent)
            return
        # The upstream sent no body, so nothing was streamed: promise one byte,
        # send the head, then end the connection once it has left.
        flow.response.headers["content-length"] = "1"
        flow.response.raw_content = b""
        act.end_connection_after_sent(self.how, when, body_sent=0, body_announced=1)
