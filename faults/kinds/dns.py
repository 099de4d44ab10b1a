"""``dns``: a fault on a DNS query answered by mitmproxy's DNS mode (``--mode dns@HOST:53``).

- ``dns rcode=NXDOMAIN|SERVFAIL|REFUSED|FORMERR|NOTIMP|...``: fail the query with that rcode;
- ``dns answer=empty``: NOERROR with no records (Go: "no such host", like NXDOMAIN);
- ``dns answer=IP``: point the name at another address (A for IPv4, AAAA for IPv6; the
  other type gets an empty answer);
- ``dns answer=drop``: no reply at all (the client waits out its resolver's timeout);
- ``delay_ms=N``: answer N ms late (alone: the proxy's normal answer, late).

``level = "dns"``: matched per query by ``faults/addons/dns.py`` (``~d`` on the queried
name), which calls ``dns_request`` with a ``DnsAct`` (``faults/wire/dnsact.py``); the HTTP
injector never applies it. Go asks A and AAAA for each lookup, so a
lookup is two queries: ``first``/``every``/``probability`` count queries.
"""

from __future__ import annotations

import ipaddress

from faults.errors import SpecError
from faults.kinds import Fault, Param, register

# RFC 1035 / 2136 rcodes a plan may name (NOERROR is ``answer=...``)
RCODES = {"formerr": 1, "servfail": 2, "nxdomain": 3, "notimp": 4, "refused": 5,
          "yxdomain": 6, "yxrrset": 7, "nxrrset": 8, "notauth": 9, "notzone": 10}


def parse_answer(value: str) -> str:
    """``empty``, ``drop`` or a canonical IP address; SpecError otherwise."""
    if value in ("", "empty", "drop"):
        return value
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise SpecError(f"answer={value!r}: expected empty, drop or an IP address") from None


@register
class Dns(Fault):
    kind = "dns"
    summary = "fail, empty, redirect, drop or delay a DNS answer (DNS mode)"
    level = "dns"
    params = {
        "rcode": Param(str, "", choices=("",) + tuple(RCODES), help="fail the query with this rcode"),
        "answer": Param(str, "", help="empty | drop | IP: what the answer holds"),
        "delay_ms": Param(int, 0, min=0, max=600_000, help="answer this many ms late"),
    }

    @classmethod
    def check(cls, params):
        if "answer" in params:
            params["answer"] = parse_answer(params["answer"])
        if not (params.get("rcode") or params.get("answer") or params.get("delay_ms")):
            raise SpecError("fault 'dns' needs one of rcode=, answer=, delay_ms=")
        if params.get("rcode") and params.get("answer"):
            raise SpecError("dns rcode=... and answer=... exclude each other (an error reply has no answer)")

    async def dns_request(self, flow, act):
        delay = self.get("delay_ms")
        if delay:
            act.record(delay_ms=delay)
            await act.wait(delay / 1000)
        rcode, answer = self.get("rcode"), self.get("answer")
        if rcode:
            act.fail(RCODES[rcode])
        elif answer == "drop":
            await act.drop()
        elif answer == "empty":
            act.answer_empty()
        elif answer:
            act.point(answer)
        else:  # delay_ms alone: the proxy's own answer, late
            act.answer_default()
