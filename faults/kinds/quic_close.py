"""``quic_close code=C [space=application|transport] [reason=TEXT] when=before_response|after_headers``:
close the selected request's QUIC connection with CONNECTION_CLOSE.

- ``space=application`` (default): frame 0x1d with an HTTP/3 error code (``code`` an
  RFC 9114/9204 name such as ``H3_INTERNAL_ERROR``, ``H3_EXCESSIVE_LOAD``, or a number);
- ``space=transport``: frame 0x1c with a QUIC transport error (``code`` an RFC 9000
  name such as ``PROTOCOL_VIOLATION``, ``CONNECTION_REFUSED``, or a number).
Every other stream open on the connection ends with it.
Only HTTP/3 flows have a QUIC connection: on HTTP/1.1 and HTTP/2 flows it is not
applied (the record says so, ``quic_refused``), never silently something else.
"""

from __future__ import annotations

import logging

from faults.catalog.tables import H3_CODES, QUIC_CODES, h3_code, quic_code
from faults.errors import SpecError
from faults.kinds import Fault, Param, register

log = logging.getLogger(__name__)


@register
class QuicClose(Fault):
    kind = "quic_close"
    summary = "HTTP/3: QUIC CONNECTION_CLOSE with an HTTP/3 application error or a QUIC transport error"
    params = {
        "code": Param(str, default="H3_INTERNAL_ERROR",
                      help="an HTTP/3 name (space=application) or a QUIC transport name (space=transport), or a number"),
        "space": Param(str, default="application", choices=("application", "transport"),
                       help="application: CONNECTION_CLOSE 0x1d (HTTP/3 code); transport: 0x1c (QUIC code)"),
        "reason": Param(str, default="", help="the reason phrase"),
        "when": Param(str, default="before_response", choices=("before_response", "after_headers")),
    }

    @classmethod
    def check(cls, params):
        space = params.get("space", "application")
        code = params.get("code", "H3_INTERNAL_ERROR" if space == "application" else "INTERNAL_ERROR")
        try:
            (h3_code if space == "application" else quic_code)(code)
        except KeyError as e:
            raise SpecError(f"code={code!r} (space={space}): {e.args[0]}") from None
        if space == "transport" and str(code).upper() in H3_CODES:
            raise SpecError(f"code={code!r} is an HTTP/3 code: use space=application")
        if space == "application" and str(code).upper() in QUIC_CODES and str(code).upper() != "NO_ERROR":
            raise SpecError(f"code={code!r} is a QUIC transport code: use space=transport")
        params["code"] = str(code).upper() if not str(code).strip().isdigit() else str(code)

    def _code(self) -> int:
        space = self.get("space")
        code = self.p.get("code", "H3_INTERNAL_ERROR" if space == "application" else "INTERNAL_ERROR")
        return h3_code(code) if space == "application" else quic_code(code)

    async def request(self, flow, act):
        if not act.h3():
            log.info(f"quic_close: {flow.request.http_version} flow has no QUIC connection: not applied "
                     f"({flow.request.pretty_url})")
            act.record(quic_refused=f"{flow.request.http_version} flow: no QUIC connection to close")
            return
        when = self.get("when")
        act.h3_close(self._code(), self.get("space"), when, reason=self.get("reason"))
        if when == "before_response":
            act.end_stream()

    def responseheaders(self, flow, act):
        if self.get("when") == "after_headers" and act.h3():
            from faults.kinds._cut import Cutter
            flow.response.stream = Cutter(0)

    async def response(self, flow, act):
        if self.get("when") == "after_headers" and act.h3() and flow.killable:
            act.end_stream()
