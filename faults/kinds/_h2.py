"""Shared by ``rst_stream``, ``goaway`` and ``h2_violation``: the HTTP/2 error
code parameter, and the HTTP/1.1 fallback.

On a flow that is not HTTP/2 (or whose connection does not run the
``faults.wire.h2layer`` layer) there is no stream to reset and no GOAWAY to
send: these kinds then reset the TCP connection before the response (whatever
``when`` says), log one line, and record ``fallback="tcp_reset"``; the
classifier reports what the clients say for a reset.
"""

from __future__ import annotations

import logging

from faults.catalog.tables import H3_CODES, H3_TO_H2, h2_code, h2_known, h2_name, h3_code, stream_code_for_h3
from faults.kinds import Fault, Param
from faults.kinds._cut import Cutter, cut_stream_now
from faults.errors import SpecError

log = logging.getLogger(__name__)


def code_param(default: str = "INTERNAL_ERROR") -> Param:
    return Param(str, default=default, help="RFC 9113 error name, an HTTP/3 name (H3_REQUEST_CANCELLED, ...; "
                                            "case-insensitive) or any integer; each protocol gets its counterpart")


def check_code(params: dict) -> None:
    if "code" in params:
        text = str(params["code"]).strip().upper()
        if text in H3_CODES:  # an HTTP/3 name, as written
            params["code"] = text
            return
        try:
            n = h2_code(params["code"])
        except KeyError as e:
            if "H3_" + text in H3_CODES and not text.isdigit():  # an HTTP/3-only name without its prefix
                params["code"] = "H3_" + text
                return
            raise SpecError(f"code={params['code']!r}: {e.args[0]} (or an HTTP/3 name: "
                            f"{', '.join(H3_CODES)})") from None
        params["code"] = h2_name(n) if h2_known(n) else str(n)


class H2Fault(Fault):
    def code(self) -> int:
        """The code on an HTTP/2 flow (an HTTP/3 name: its HTTP/2 counterpart, RFC 9114 A.4,
        else its value)."""
        code = self.get("code")
        if str(code).upper() in H3_CODES:
            n = h3_code(code)
            return H3_TO_H2.get(n, n)
        return h2_code(code)

    def code_h3(self) -> int:
        """The code on an HTTP/3 flow (an HTTP/2 name: its HTTP/3 counterpart)."""
        return stream_code_for_h3(self.get("code"))

    def fallback(self, flow, act) -> None:
        """Not HTTP/2: a TCP RST before the response, whatever ``when`` says."""
        log.info(f"{self.kind}: {flow.request.http_version} flow has no HTTP/2 stream: TCP reset instead "
                 f"({flow.request.pretty_url})")
        act.record(h2_frame=self.frame, fallback="tcp_reset")
        act.end_connection("rst", "before_response", body_sent=0)

    @staticmethod
    def fell_back(flow) -> bool:
        return bool(flow.metadata.get("fault_wire", {}).get("fallback"))

    @staticmethod
    def swallow_body(flow, keep: int | None = 0) -> None:
        flow.response.stream = Cutter(keep)

    cut_now = staticmethod(cut_stream_now)
