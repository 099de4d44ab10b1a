"""``blackhole [address=127.A.B.C] [port=N]``: the name resolves to a loopback alias
whose listener never accepts and whose accept queue is full: the kernel drops the
client's SYNs, and the dial times out (k6: 1211 after its 30 s dialer timeout,
1050 when the request timeout is shorter).

The listener is opened (``faults/wire/sockets.py``) on first use, on ``port``
(default: the port of the proxy's own HTTP listener, the port the URL of a name
the DNS mode serves uses). ``level = "dns"``.
"""

from __future__ import annotations

from faults.kinds import Fault, Param, register
from faults.kinds.refuse import loopback

DEFAULT = "127.66.0.2"


@register
class Blackhole(Fault):
    kind = "blackhole"
    summary = "dial timeout: the DNS answer points at a listener that never accepts (full backlog)"
    level = "dns"
    params = {
        "address": Param(str, DEFAULT, help="the loopback alias the name resolves to"),
        "port": Param(int, None, min=1, max=65535, help="the port clients dial (default: the proxy's HTTP port)"),
    }

    @classmethod
    def check(cls, params):
        if "address" in params:
            params["address"] = loopback("address", params["address"])

    async def dns_request(self, flow, act):
        address, port = self.get("address"), self.get("port") or act.http_port()
        act.record(blackholed=bool(port) and act.blackhole(address, port))
        act.record(port=port)
        act.answer(address)
