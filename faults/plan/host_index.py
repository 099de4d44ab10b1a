"""The host index (performance only, same results).

A rule whose filter is ``~d RE``, or a conjunction containing ``~d RE`` conjuncts
(``~d api.test & ~u /v1/``), cannot match a flow whose host fails those domain regexes.
Such a rule keeps a per-host memo of that verdict (``Rule.may_match_host``), so
rejecting a flow to another host costs one dict lookup instead of running the filter;
``Plan.candidates`` goes further and keeps, per host, the ordered list of rules that can
match it, so its cost is flat in the number of rules that cannot match the host."""

from __future__ import annotations

import re

from mitmproxy import flowfilter, http

from faults import vocabulary
from faults.memo import remember
from faults.plan import limits
from faults.plan.filters import client_host, conjuncts

# The host key of the most recent flow: flow, host, authority, header fields, key.
# ``Rule.select`` reads it inline (its hot path: once per rule per request).
key_memo: list = [None, None, None, None, None]
# Host keys by what they are computed from (see ``host_key``): flows interleave on
# concurrent connections, so the one-flow memo above misses at most of their hooks.
_by_inputs: dict = {}


def domain_gate(filt) -> tuple[re.Pattern, ...] | None:
    """The ``~d`` regexes that must all match the host for ``filt`` to match:
    ``filt`` itself if it is ``~d RE``, its ``~d`` conjuncts if it is an ``&``
    (nested ``&`` included). None when the filter puts no such condition."""
    return tuple(f.re for f in conjuncts(filt) if isinstance(f, flowfilter.FDomain)) or None


def host_key(flow) -> tuple[str, str, str] | None:
    """What ``~d`` looks at: (request.host, request.pretty_host, the name a
    reverse-mode client used or ""); None for a non-HTTP flow (``~d`` never matches those).
    Remembered for the most recent flow while its host, authority and headers are
    unchanged, so a selection pass over many rules computes it once."""
    if not isinstance(flow, http.HTTPFlow):
        return None
    data = flow.request.data
    m = key_memo
    if m[0] is flow and m[1] is data.host and m[2] is data.authority and m[3] is data.headers.fields:
        return m[4]
    # everything the key is a function of: the protocol (HTTP/2 and 3 read the authority
    # first), the target host, the authority, the Host header values, the client's name
    # (each ``pretty_host`` parses and IDNA-checks the name: ~10 us)
    req = flow.request
    inputs = (data.http_version, data.host, data.authority,
              tuple([v for k, v in data.headers.fields if k.lower() == b"host"]),  # inlined: no generator
              getattr(req, vocabulary.CLIENT_HOST_ATTR, None))
    key = _by_inputs.get(inputs)
    if key is None:
        key = remember(_by_inputs, inputs, (req.host, req.pretty_host, client_host(flow)), limits.HOST_MEMO_MAX)
    m[:] = [flow, data.host, data.authority, data.headers.fields, key]
    return key


def gate_passes(gate: tuple[re.Pattern, ...], key: tuple[str, str, str]) -> bool:
    """Whether every regex of ``gate`` matches one of the names in host key ``key``."""
    host, pretty, client = key
    return all(p.search(host) or p.search(pretty) or (client and p.search(client)) for p in gate)


def may_select_host(rules, names) -> bool:
    """Whether any of ``rules`` can select a flow or connection whose host is
    one of ``names`` (the fast path for traffic no rule can touch,
    ``faults.addons.passthrough``). DNS rules act on queries, not on
    connections, so they never count. A rule counts unless its filter is
    host-gated (``~d RE``, or ``&`` with ``~d`` conjuncts) and some gate regex
    matches none of ``names``: any other filter (``~u``, ``~h``, ``~m``, ``|``,
    ``!``, ``~src``, ...) may select any host. Conservative: the names are all
    the host names a flow on the connection may show (target, SNI, Host), and
    a gate counts as passed when each of its regexes matches one of them."""
    names = tuple(names)
    for rule in rules:
        if rule.fault.level == "dns":
            continue
        gate = rule.gate
        if gate is None or all(any(p.search(n) for n in names) for p in gate):
            return True
    return False
