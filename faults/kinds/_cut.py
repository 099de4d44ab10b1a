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
"""

from __future__ import annotations

from faults.kinds import PHASES, Fault, Param


class Cutter:
    """A response ``stream`` callable that lets ``keep`` body bytes through."""

    def __init__(self, keep: int | None):
        self.keep = keep
        self.sent = 0

    def __call__(self, chunk: bytes) -> bytes:
        if self.keep is None and chunk:
            self.keep = max(1, len(chunk) // 2)  # length unknown: half the first chunk
        room = max(0, (self.keep or 0) - self.sent)
        out = chunk[:room]
        self.sent += len(out)
        return out


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
        length = self.act.flow.request.headers.get("content-length", "")
        self.act.record(request_body_received=self.seen,
                        request_body_announced=int(length) if length.isdigit() else None)
        self.act.end_connection(self.fault.how, phase, body_sent=0)


SCOPE = Param(str, default="connection", choices=("connection", "stream"),
              help="HTTP/2: end the whole connection, or only this request's stream")


def stream_scope(fault, act) -> bool:
    """This fault is to end only the flow's HTTP/2 stream (and the flow is one)."""
    return fault.get("scope") == "stream" and act.h2_stream() is not None


def keep_for(flow, after_bytes: int | None) -> int | None:
    """Body bytes to let through before a mid-body cut: ``after_bytes``, else half
    the announced length (None: unknown, half the first chunk)."""
    if after_bytes is not None:
        return after_bytes
    length = flow.response.headers.get("content-length", "")
    return max(1, int(length) // 2) if length.isdigit() and int(length) > 1 else None


class ConnectionCut(Fault):
    how: str  # "rst" or "fin"
    params = {
        "when": Param(str, default="before_response", choices=PHASES + ("mid_request",)),
        "after_bytes": Param(int, default=None, min=0,
                             help="mid_body: response body bytes to send first; mid_request: request body bytes to read"),
        "scope": SCOPE,
    }

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
        length = flow.request.headers.get("content-length", "")
        keep = self.get("after_bytes")
        if keep is None:
            keep = max(1, int(length) // 2) if length.isdigit() and int(length) > 1 else 1
        if stream_scope(self, act):  # the HTTP/2 layer resets the stream at ``keep`` bytes
            act.h2_frame(h2_frame="rst_stream", code=0x2 if self.how == "rst" else 0x0, phase="mid_request",
                         after_bytes=keep)
            return
        flow.request.stream = RequestCutter(self, act, keep)

    async def request(self, flow, act):
        when = self.get("when")
        if when == "mid_request":
            if stream_scope(self, act):
                if not act.h2_action().get("fired"):  # the body was shorter than after_bytes
                    act.h2_action()["phase"] = "before_response"
                    act.record(phase="before_response")
                    act.end_stream()
                return
            cutter = flow.request.stream
            if isinstance(cutter, RequestCutter) and not cutter.fired:
                cutter.fire("before_response")  # the body was shorter than after_bytes
            return
        if stream_scope(self, act):
            code = self._stream_code(act)
            if code is not None:
                act.h2_frame(h2_frame="rst_stream", code=code, phase=when)
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
        keep = 0 if when == "after_headers" else keep_for(flow, self.get("after_bytes"))
        flow.response.stream = Cutter(keep)

    async def response(self, flow, act):
        if stream_scope(self, act):
            sent = getattr(flow.response.stream, "sent", None)
            if self._stream_code(act) is None:
                # the stream ends where the cut is, its Content-Length unmet: a short
                # body on this request only
                length = flow.response.headers.get("content-length", "")
                act.record(phase=self.get("when"), body_sent=sent,
                           body_announced=int(length) if length.isdigit() else None)
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
