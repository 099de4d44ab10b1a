"""``bad_gzip``: send the body as-is but labelled ``Content-Encoding: gzip``."""

from faults.kinds import Fault, register

GZIP_MAGIC = b"\x1f\x8b"


@register
class BadGzip(Fault):
    kind = "bad_gzip"
    summary = "Content-Encoding: gzip on a body that is not gzip"

    async def response(self, flow, act):
        try:
            body = flow.response.content or b""
        except ValueError:  # already undecodable: keep the raw bytes
            body = flow.response.raw_content or b""
        if body.startswith(GZIP_MAGIC):
            body = b"!" + body
        flow.response.headers["content-encoding"] = "gzip"
        flow.response.headers.pop("transfer-encoding", None)
        flow.response.headers["content-length"] = str(len(body))
        flow.response.raw_content = body
        act.record(phase="after_response", body_encoding="gzip (invalid)")
