"""``status code=N [body=TEXT] [retry_after=S] [content_type=T] [header.NAME=V] [when=request|early]``:
answer from the proxy with that status; the upstream is never contacted.

``when=early`` (plain HTTP/1.1): the answer goes out as soon as the request head
arrives, before the body is read (a 413 to an upload), followed by a lingering
close: FIN, the body still read so the kernel never resets the connection under
the client. On TLS (and so HTTP/2) raw bytes would bypass TLS: the answer goes
out after the body, as ``when=request`` (recorded ``early_status: false``)."""

from http import HTTPStatus

from mitmproxy import http

from faults.kinds import Fault, Param, register


@register
class Status(Fault):
    kind = "status"
    summary = "answer with HTTP status N (upstream not contacted)"
    params = {
        "code": Param(int, min=100, max=599, help="HTTP status code, 100-599"),
        "body": Param(str, default="", help="response body"),
        "retry_after": Param(str, default=None, help="Retry-After header value"),
        "content_type": Param(str, default="text/plain", help="Content-Type header"),
        "when": Param(str, default="request", choices=("request", "early"),
                      help="early: answer at the request head, before the body is read"),
    }
    prefixed = ("header",)

    @classmethod
    def level_for(cls, params):
        return "request_head" if params.get("when") == "early" else cls.level

    def _headers(self) -> dict:
        headers = {"content-type": self.get("content_type"), "x-fault-injected": self.spec.text[:200]}
        if self.get("retry_after") is not None:
            headers["retry-after"] = self.get("retry_after")
        for key, value in self.p.items():
            if key.startswith("header."):
                headers[key[len("header."):]] = value
        return headers

    def requestheaders(self, flow, act):
        code = self.get("code")
        if code < 200 or not flow.request.http_version.startswith("HTTP/1"):
            act.record(early_status=False)
            return
        body = self.get("body").encode()
        try:
            reason = HTTPStatus(code).phrase
        except ValueError:
            reason = ""
        head = [f"HTTP/1.1 {code} {reason}", *(f"{k}: {v}" for k, v in self._headers().items()),
                f"content-length: {len(body)}", "connection: close"]
        sent = act.answer_early(("\r\n".join(head) + "\r\n\r\n").encode("utf-8", "replace") + body)
        act.record(early_status=sent, synthetic_status=code, phase="before_request_forwarded")

    async def request(self, flow, act):
        code = self.get("code")
        if code < 200 and flow.request.http_version.startswith("HTTP/2"):
            # mitmproxy can only send an HTTP/2 response as a final one (END_STREAM),
            # which h2 refuses for 1xx (the connection would crash). What the client
            # sees from a lone 1xx is no final answer: hold the exchange instead.
            act.record(phase="before_response", informational_held=code)
            await act.hold_then_end(None)
            return
        # when=early: the answer already left; this one (the same) is swallowed
        flow.response = http.Response.make(code, self.get("body"), self._headers())
        act.record(phase="before_response", synthetic_status=code)
