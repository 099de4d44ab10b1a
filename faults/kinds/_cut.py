"""Shared by ``reset`` and ``close``: end the client connection at a phase.

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


class ConnectionCut(Fault):
    how: str  # "rst" or "fin"
    params = {
        "when": Param(str, default="before_response", choices=PHASES),
        "after_bytes": Param(int, default=None, min=0, help="mid_body: body bytes to send first"),
    }

    async def request(self, flow, act):
        if self.get("when") == "before_response":
            if flow.request.http_version.startswith("HTTP/2"):
                # Go's HTTP/2 client writes on its own (SETTINGS ACK, WINDOW_UPDATE);
                # an RST that lands during such a write is consumed by the write and
                # the read loop then reports a plain EOF. Let those writes settle.
                await act.flushed()
            act.end_connection(self.how, "before_response", body_sent=0)

    def responseheaders(self, flow, act):
        when = self.get("when")
        if when == "before_response":
            return
        if when == "after_headers":
            keep = 0
        elif self.get("after_bytes") is not None:
            keep = self.get("after_bytes")
        else:
            length = flow.response.headers.get("content-length", "")
            keep = max(1, int(length) // 2) if length.isdigit() and int(length) > 1 else None
        flow.response.stream = Cutter(keep)

    async def response(self, flow, act):
        when = self.get("when")
        if when == "before_response":
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
