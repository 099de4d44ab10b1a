"""``grpc_status code=0-16|NAME message=TEXT after_messages=N``: answer a gRPC
call with that status and ``grpc-message``.

- ``after_messages=0`` (default): trailers-only, the upstream is never called.
- ``after_messages=N``: the call goes upstream; the first N response messages
  are streamed through as they come, the rest dropped, then the trailers carry
  our status (the upstream's are replaced) when the upstream's stream ends.
Select calls with a flow filter on the path, which is ``/package.Service/Method``
(e.g. ``~u /helloworld.Greeter/SayHello``) and ``~h content-type:.application/grpc``.
"""

from __future__ import annotations

from mitmproxy import http

from faults.catalog.tables import GRPC_CODES, grpc_code, grpc_known, grpc_name
from faults.kinds import Fault, Param, register
from faults.kinds._cut import EventCutter, grpc_end
from faults.errors import SpecError

def parse_grpc_code(value) -> int:
    try:
        n = grpc_code(str(value))
    except KeyError:
        n = -1
    if not grpc_known(n):
        raise SpecError(f"code={value!r}: expected 0-16 or a gRPC status name "
                        f"({', '.join(name for _, name, _ in GRPC_CODES)})")
    return n


def percent_encode(text: str) -> str:
    """grpc-message is percent-encoded UTF-8 (gRPC over HTTP/2 spec)."""
    out = []
    for b in text.encode():
        out.append(chr(b) if 0x20 <= b <= 0x7E and b != 0x25 else f"%{b:02X}")
    return "".join(out)


def split_messages(body: bytes) -> list[bytes]:
    """Length-prefixed gRPC messages (5-byte header each), incomplete tail dropped."""
    out, i = [], 0
    while i + 5 <= len(body):
        n = int.from_bytes(body[i + 1:i + 5], "big")
        if i + 5 + n > len(body):
            break
        out.append(body[i:i + 5 + n])
        i += 5 + n
    return out


@register
class GrpcStatus(Fault):
    kind = "grpc_status"
    summary = "answer a gRPC call with a status (trailers-only, or after N upstream messages)"
    params = {
        "code": Param(str, default="UNAVAILABLE", help="0-16 or a gRPC status name"),
        "message": Param(str, default=""),
        "after_messages": Param(int, default=0, min=0),
    }

    @classmethod
    def check(cls, params):
        if "code" in params:
            params["code"] = grpc_name(parse_grpc_code(params["code"]))

    def status(self) -> int:
        return parse_grpc_code(self.get("code"))

    def _record(self, act, sent: int):
        code = self.status()
        act.record(grpc_status=code, grpc_status_name=grpc_name(code), grpc_message=self.get("message"),
                   after_messages=self.get("after_messages"), messages_sent=sent)

    async def request(self, flow, act):
        if self.get("after_messages") > 0:
            return
        headers = {"content-type": "application/grpc", "grpc-status": str(self.status())}
        if self.get("message"):
            headers["grpc-message"] = percent_encode(self.get("message"))
        flow.response = http.Response.make(200, b"", headers)
        self._record(act, 0)

    def acts_on_response_head(self) -> bool:
        return self.get("after_messages") > 0  # 0: a trailers-only answer instead of the upstream's

    def responseheaders(self, flow, act):
        # streamed: each of the first N messages reaches the client as it comes; the
        # status follows in the trailers when the upstream's stream ends
        if self.get("after_messages") > 0:
            flow.response.stream = EventCutter(self.get("after_messages"), end=grpc_end)

    async def response(self, flow, act):
        if self.get("after_messages") == 0 or flow.response is None:
            return
        r = flow.response
        if isinstance(r.stream, EventCutter):
            kept = [b""] * r.stream.passed
        else:
            kept = split_messages(r.raw_content or b"")[: self.get("after_messages")]
            r.raw_content = b"".join(kept)
        r.headers.pop("content-length", None)
        for k in ("grpc-status", "grpc-message"):
            r.headers.pop(k, None)
        trailers = http.Headers([(b"grpc-status", str(self.status()).encode())])
        if self.get("message"):
            trailers["grpc-message"] = percent_encode(self.get("message"))
        r.trailers = trailers
        self._record(act, len(kept))
