"""A DNS query the DNS mode answered -> the client-neutral ``Outcome`` of the lookup.

Input: what the DNS addon sent (``faults/addons/dns.py``): the fault kind and its
parameters (None: the proxy's own answer), the reply (``rcode``, ``addresses``,
``dropped``, ``delay_ms``), the name, the query type and the DNS server address
the client asked (Go names it in its error text).

Events: ``dns.no_such_host`` (NXDOMAIN or an empty answer), ``dns.error`` (any
other rcode), ``dns.drop`` (no reply), ``dns.answer`` (addresses; the HTTP flow
that follows has its own record), ``dial.refused`` (the answer is a loopback alias
where nothing listens), ``dial.blackhole`` (a listener whose full backlog drops SYNs).
"""

from __future__ import annotations

from faults.classify.outcome import Event, Outcome

RCODE_NAMES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED",
               6: "YXDOMAIN", 7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH", 10: "NOTZONE"}


def outcome_of_query(*, kind: str | None, name: str, qtype: str, server: str, rcode: int, addresses: list[str],
                     dropped: bool = False, delay_ms: int = 0, refused: bool | None = None,
                     blackholed: bool | None = None, lookup_empty: bool = False, pointed: bool = False) -> Outcome:
    """``lookup_empty``: no query of this lookup (A and AAAA) gets an address;
    ``pointed``: a fault chose the address (``dns answer=IP``)."""
    facts = {"name": name, "qtype": qtype, "server": server, "rcode": RCODE_NAMES.get(rcode, rcode),
             "addresses": addresses, "delay_ms": delay_ms, "pointed": pointed}
    late = f" after {delay_ms} ms" if delay_ms else ""
    if dropped:
        return Outcome(Event.DNS_DROP, "client.timeout.request",
                       f"no reply to the {qtype} query for {name}: the resolver times out", facts)
    if rcode == 3:
        return Outcome(Event.DNS_NO_SUCH_HOST, "dns.lookup.no_such_host", f"NXDOMAIN for {name}{late}", facts)
    if rcode:
        return Outcome(Event.DNS_ERROR, "dns.lookup.error", f"{facts['rcode']} for {name}{late}", facts)
    if kind == "refuse":
        facts["refused_checked"] = refused
        return Outcome(Event.DIAL_REFUSED, "network.dial.refused",
                       f"{name} -> {', '.join(addresses)}, where nothing listens: the dial is refused", facts)
    if kind == "blackhole":
        facts["listener_open"] = blackholed
        return Outcome(Event.DIAL_BLACKHOLE, "network.dial.timeout",
                       f"{name} -> {', '.join(addresses)}, a listener whose full backlog drops SYNs", facts)
    if not addresses and lookup_empty:
        # Go asks A and AAAA: the lookup fails only when neither has an address (the
        # addon gives both queries of a lookup the same answer)
        return Outcome(Event.DNS_NO_SUCH_HOST, "dns.lookup.no_such_host",
                       f"an empty {qtype} answer for {name}{late}", facts)
    to = ", ".join(addresses) or f"no {qtype} record (the other query type has the address)"
    return Outcome(Event.DNS_ANSWER, "ok.none.success", f"{name} -> {to}{late}", facts)
