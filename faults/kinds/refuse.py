"""``refuse [address=127.A.B.C]``: the name resolves to a loopback alias where nothing
listens, so the client's dial is refused (TCP RST to its SYN).

A user-space proxy cannot refuse a connection it has already accepted; the DNS
answer is what moves the dial elsewhere. Every 127.0.0.0/8 address is on Linux's
loopback interface with no setup, and a listener on 127.0.0.1 does not cover
127.66.0.1 (unless it is bound to the wildcard address). ``level = "dns"``.
"""

from __future__ import annotations

import ipaddress

from faults.errors import SpecError
from faults.kinds import Fault, Param, register

DEFAULT = "127.66.0.1"


def loopback(key: str, value: str) -> str:
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        raise SpecError(f"{key}={value!r}: expected an IP address") from None
    if not ip.is_loopback or ip == ipaddress.ip_address("127.0.0.1") or ip.version != 4:
        raise SpecError(f"{key}={value}: expected an IPv4 loopback alias other than 127.0.0.1 (127.0.0.0/8)")
    return str(ip)


@register
class Refuse(Fault):
    kind = "refuse"
    summary = "connection refused: the DNS answer points at a loopback alias where nothing listens"
    level = "dns"
    params = {"address": Param(str, DEFAULT, help="the loopback alias the name resolves to")}

    @classmethod
    def check(cls, params):
        if "address" in params:
            params["address"] = loopback("address", params["address"])

    async def dns_request(self, flow, act):
        address, port = self.get("address"), act.http_port()
        if port:
            act.record(refused=await act.dial_refused(address, port))
        act.record(port=port)
        act.answer(address)
