"""``status code=N [body=TEXT] [retry_after=S] [content_type=T] [header.NAME=V]``:
answer from the proxy with that status; the upstream is never contacted."""

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
    }
    prefixed = ("header",)

    async def request(self, flow, act):
        code = self.get("code")
        if code < 200 and flow.request.http_version.startswith("HTTP/2"):
            # mitmproxy can only send an HTTP/2 response as a final one (END_STREAM),
            # which h2 refuses for 1xx (the connection would crash). What the client
            # sees from a lone 1xx is no final answer: hold the exchange instead.
            act.record(phase="before_response", informational_held=code)
            await act.hold_then_end(None)
            return
        headers = {"content-type": self.get("content_type"), "x-fault-injected": self.spec.text[:200]}
        if self.get("retry_after") is not None:
            headers["retry-after"] = self.get("retry_after")
        for key, value in self.p.items():
            if key.startswith("header."):
                headers[key[len("header."):]] = value
        flow.response = http.Response.make(code, self.get("body"), headers)
        act.record(phase="before_response", synthetic_status=code)
