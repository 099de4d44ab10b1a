"""The DNS fault addon: ``dns``, ``refuse`` and ``blackhole`` rules, applied to the
queries mitmproxy's DNS mode receives (``--mode dns@127.0.0.53:53`` beside the HTTP mode).

A rule is matched against a *query flow*: an ``http.HTTPFlow`` whose request is
``GET http://<queried name>/``, so ``~d`` matches the name (``~src`` the client).
Go (k6) sends an A and an AAAA query for each lookup, and repeats a query that
failed: the queries for one name from one client within ``LOOKUP_S`` of each other
are one *lookup* and share one decision (``first: 1`` fails one whole lookup, not
half of it, which Go would report as a race between the two answers).

Names no rule selects get the proxy's own answer (option ``fault_dns_answer``): by
default the address of the proxy's HTTP listener (A; an empty AAAA), so one command
serves DNS and faults for a test domain; an IP address; or ``passthrough`` (mitmproxy's
own resolver). Every query is one report record (``"record": "dns"``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from dataclasses import dataclass

from mitmproxy import ctx, dns, exceptions, http
from mitmproxy.proxy import mode_specs

from faults import vocabulary
from faults.classify import classify_query
from faults.addons.annotate import shown_by
from faults.addons.startup import one_line_at_start
from faults.report import dns_record
from faults.wire import sockets
from faults.wire.dnsact import DnsAct, records

log = logging.getLogger(__name__)
LOOKUP_S = 1.0  # queries for a name closer than this (from one client) are one lookup
MEMO_MAX = 4096
STATE = vocabulary.DNS_STATE
MARKER = ":boom:"
# answer=drop: mitmproxy answers every query it does not forward (and its dumper needs
# a response), so a drop holds the query this long, then sends a SERVFAIL nobody waits
# for any more (Go gives up after resolv.conf's timeout x attempts: 10 s by default)
DROP_HOLD_S = 60.0


@dataclass
class Lookup:
    rule: object | None
    until: float
    number: int


def query_flow(flow: dns.DNSFlow, name: str) -> http.HTTPFlow:
    """A flow-like object for a DNS query, so that ``~d NAME`` (and ``~src``) work on it."""
    f = http.HTTPFlow(flow.client_conn, flow.server_conn, live=False)
    f.request = http.Request(
        host=name, port=80, method=b"GET", scheme=b"http", authority=b"", path=b"/",
        http_version=b"HTTP/1.1", headers=http.Headers(), content=b"", trailers=None,
        timestamp_start=time.time(), timestamp_end=None,
    )
    return f


class DnsFaults:
    name = "dnsfaults"

    def __init__(self, injector=None, classifier=None):
        self.injector, self.classifier = injector, classifier  # handed over by FaultAddon
        self._lookups: dict[tuple, Lookup] = {}
        self._counts: dict[tuple, int] = {}
        self._refused: dict[tuple, bool | None] = {}
        self._stopping = asyncio.Event()
        self._started = False

    # -- options -------------------------------------------------------------
    def load(self, loader):
        loader.add_option(
            "fault_dns_answer", str, "",
            "DNS mode: the answer for names no dns/refuse/blackhole rule selects: empty (the address "
            "of the proxy's HTTP listener), an IP address, or 'passthrough' (mitmproxy's own resolver).",
        )

    @one_line_at_start
    def configure(self, updated):
        if "fault_dns_answer" not in updated:
            return
        value = ctx.options.fault_dns_answer.strip()
        if value in ("", "passthrough"):
            return
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise exceptions.OptionsError(f"fault_dns_answer={value[:100]!r}: expected an IP address, "
                                          "'passthrough' or nothing") from None

    def running(self):
        self._started = True
        self._stopping = asyncio.Event()

    def done(self):
        self._stopping.set()
        sockets.close_blackholes()

    # -- selection -------------------------------------------------------------
    def _rules(self):
        return self.injector.rules_for("dns") if self.injector else []

    def _lookup(self, flow: dns.DNSFlow, name: str) -> Lookup:
        peer = flow.client_conn.peername[0] if flow.client_conn.peername else None
        key, now = (peer, name), time.monotonic()
        found = self._lookups.get(key)
        if found is None or found.until < now:
            if len(self._lookups) >= MEMO_MAX:
                self._lookups = {k: v for k, v in self._lookups.items() if v.until >= now}
                if len(self._counts) >= MEMO_MAX:
                    self._counts.clear()
            qflow = query_flow(flow, name)
            rule = next((r for r in self._rules() if r.select(qflow)), None)
            self._counts[key] = self._counts.get(key, 0) + 1
            found = self._lookups[key] = Lookup(rule, now, self._counts[key])
        found.until = now + LOOKUP_S
        return found

    # -- hooks -------------------------------------------------------------------
    async def dns_request(self, flow: dns.DNSFlow):
        if not isinstance(flow.client_conn.proxy_mode, mode_specs.DnsMode) or flow.response or flow.error:
            return
        q = flow.request.question
        if q is None or not flow.request.query:
            return
        name = q.name.rstrip(".").lower()
        try:
            await self._answer(flow, q, name)
        except Exception as e:  # never a traceback mid-traffic: the query gets SERVFAIL
            log.error(f"dns fault on {name[:100]!r} failed: {e!r}")
            flow.metadata[STATE] = {"failed": repr(e)}
            flow.response = flow.request.fail(dns.response_codes.SERVFAIL)

    async def _answer(self, flow: dns.DNSFlow, q: dns.Question, name: str) -> None:
        lookup = self._lookup(flow, name)
        rule = lookup.rule
        state: dict = {"name": name, "lookup": lookup.number, "rule": rule.label if rule else None,
                       "fault": rule.spec.text if rule else None, "kind": rule.spec.kind if rule else None}
        flow.metadata[STATE] = state
        listener = sockets.http_listen_address()
        default = ctx.options.fault_dns_answer.strip() or (listener[0] if listener else None)
        if rule is None:
            if default == "passthrough":
                return  # mitmproxy's DnsResolver answers; recorded in dns_response
            flow.response = flow.request.succeed(records(q, default))
            state["lookup_empty"] = default is None
            return
        act = DnsAct(flow, state, default=default, listener=listener, stopping=self._stopping,
                     drop_hold_s=DROP_HOLD_S, report=lambda: self._record(flow, q, state),
                     refused_memo=self._refused, log=log)
        await rule.fault.dns_request(flow, act)

    def dns_response(self, flow: dns.DNSFlow):
        if not isinstance(flow.client_conn.proxy_mode, mode_specs.DnsMode) or flow.response is None:
            return
        q = flow.request.question
        if q is None:
            return
        state = flow.metadata.get(STATE) or {"name": q.name.rstrip(".").lower(), "lookup": 0}
        if "failed" in state or state.get("recorded"):
            return
        self._record(flow, q, state)

    def _record(self, flow: dns.DNSFlow, q: dns.Question, state: dict) -> None:
        state["recorded"] = True
        resp = None if state.get("dropped") else flow.response
        addresses = [str(a.ipv4_address if a.type == dns.types.A else a.ipv6_address)
                     for a in (resp.answers if resp else []) if a.type in (dns.types.A, dns.types.AAAA)]
        sock = flow.client_conn.sockname
        server = f"{sock[0]}:{sock[1]}" if sock else ""
        qtype = dns.types.to_str(q.type)
        c = classify_query(shown=shown_by(self.classifier),
                           kind=state.get("kind"), name=state["name"], qtype=qtype, server=server,
                           rcode=resp.response_code if resp else 0, addresses=addresses,
                           dropped=bool(state.get("dropped")), delay_ms=state.get("delay_ms", 0),
                           refused=state.get("refused"), blackholed=state.get("blackholed"),
                           lookup_empty=bool(state.get("lookup_empty")), pointed=bool(state.get("pointed")))
        peer = flow.client_conn.peername
        rec = dns_record(c, name=state["name"], qtype=qtype, server=server,
                         client=f"{peer[0]}:{peer[1]}" if peer else None, rule=state.get("rule"),
                         fault=state.get("fault"), lookup=state.get("lookup", 0))
        k6 = c.k6
        flow.comment = f"k6 {k6.error} {c.entry}" + (f" ({k6.message})" if k6.message else "")
        if state.get("fault"):
            flow.comment = f"fault: {state['fault']} [{state['rule']}] -> {flow.comment}"
            flow.marked = MARKER
        if self.classifier is not None:
            self.classifier.connection_record(rec)
