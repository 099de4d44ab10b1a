"""What a DNS-level fault may do to a query, and the record of what it did.

The DNS counterpart of ``faults.wire.act.Act``: a kind's ``dns_request(flow, act)``
(``level = "dns"``) answers the query through it, and writes what it did in the query's
state (``flow.metadata["dns_fault"]``), which the DNS addon classifies and reports.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from typing import Callable

from mitmproxy import dns

from faults.wire import sockets

TTL = 1  # seconds: resolvers between the client and us should not keep a faulted answer


def records(q: dns.Question, ip: str | None) -> list[dns.ResourceRecord]:
    """The answer records for ``ip``: an A for an IPv4 query, AAAA for IPv6, else none."""
    if not ip:
        return []
    addr = ipaddress.ip_address(ip)
    if q.type == dns.types.A and addr.version == 4:
        return [dns.ResourceRecord.A(q.name, addr, ttl=TTL)]
    if q.type == dns.types.AAAA and addr.version == 6:
        return [dns.ResourceRecord.AAAA(q.name, addr, ttl=TTL)]
    return []


class DnsAct:
    """One query's door to the answer. ``default`` is the proxy's own answer (an IP, None
    or ``"passthrough"``), ``listener`` its HTTP listener's (address, port) or None;
    ``report`` writes the query's record now (a dropped query is reported before its hold);
    ``refused_memo`` (address, port) -> the dial check, shared across queries."""

    def __init__(self, flow: dns.DNSFlow, state: dict, *, default: str | None,
                 listener: tuple[str, int] | None, stopping: asyncio.Event, drop_hold_s: float,
                 report: Callable[[], None], refused_memo: dict, log: logging.Logger):
        self.flow, self.state = flow, state
        self.default, self.listener = default, listener
        self.stopping, self.drop_hold_s = stopping, drop_hold_s
        self._report, self._refused, self._log = report, refused_memo, log

    # -- the record --------------------------------------------------------
    def record(self, **facts) -> None:
        self.state.update(facts)

    def http_port(self) -> int | None:
        """The port of the proxy's HTTP listener (the port a URL of a served name uses)."""
        return self.listener[1] if self.listener else None

    # -- the answer ----------------------------------------------------------
    async def wait(self, seconds: float) -> None:
        """Sleep, cut short when the proxy stops."""
        try:
            await asyncio.wait_for(self.stopping.wait(), seconds)
        except asyncio.TimeoutError:
            pass

    def fail(self, rcode: int) -> None:
        self.flow.response = self.flow.request.fail(rcode)

    def answer(self, ip: str | None) -> None:
        """``ip`` as an A or AAAA record (the other type: an empty answer)."""
        self.flow.response = self.flow.request.succeed(records(self.flow.request.question, ip))

    def answer_empty(self) -> None:
        self.record(lookup_empty=True)
        self.flow.response = self.flow.request.succeed([])

    def point(self, ip: str) -> None:
        """The name now means another address."""
        self.record(pointed=True)
        self.answer(ip)

    def answer_default(self) -> None:
        """The proxy's own answer (``passthrough``: mitmproxy's resolver answers)."""
        if self.default != "passthrough":
            self.answer(self.default)

    async def drop(self) -> None:
        """No reply. mitmproxy answers every query it does not forward (and its dumper needs a
        response), so the query is held, then answered with a SERVFAIL nobody waits for."""
        self.record(dropped=True)
        self._report()
        await self.wait(self.drop_hold_s)
        self.fail(dns.response_codes.SERVFAIL)

    # -- the address the answer points at --------------------------------------
    async def dial_refused(self, address: str, port: int) -> bool | None:
        """Whether a dial to ``address:port`` is refused (checked once per address and port)."""
        key = (address, port)
        if key not in self._refused:
            self._refused[key] = await asyncio.to_thread(sockets.refused, address, port)
            if self._refused[key] is False:
                self._log.warning(f"refuse: something accepts connections on {address}:{port} "
                                  "(a listener on the wildcard address?): the dial will not be refused")
        return self._refused[key]

    def blackhole(self, address: str, port: int) -> bool:
        """Open (once) a listener on ``address:port`` that never accepts, its backlog full."""
        return sockets.blackhole(address, port)
