"""The fault plan: ordered rules, each a mitmproxy flow filter plus a fault.

Three ways in, one grammar (``faults.spec``):
- a YAML file (option ``fault_plan``)::

      seed: 42
      rules:
        - name: flaky-api
          match: "~d api.test & ~pa /v1/"
          fault: status code=503 retry_after=2      # or a mapping {kind: status, code: 503}
          probability: 0.1                          # optional: first: N, every: N
- the ``faults`` option: ``"/~pa /v1/|status code=503"`` style strings,
  ``[SEP filter SEP] spec`` like mitmproxy's ``block_list``; selection keys may
  be given inline (``status code=503 probability=0.1``);
- the ``x-fault`` request header: a bare spec for that request only.

Selection: rules are tried in order; a rule applies when its filter matches
and its gates pass (``first``: only the first N matching flows; ``every``:
every Nth; ``probability``: a draw; ``window``, ``requests``, a ramped
``probability`` and ``max_active``: ``faults.gates``, docs/time.md). The first
rule that applies wins. Each rule draws from its own RNG seeded by the plan
seed and the rule's identity, so adding or removing another rule does not
change this rule's draws. A rule's ``fault`` may be a list (``faults.spec.stack``).
A rule whose filter reads the response head (``~c``, ``~hs``, ...) has level
"response": the injector decides it when the upstream's head arrives.

Host index (performance only, same results): a rule whose filter is ``~d RE``
or a conjunction containing ``~d RE`` conjuncts (``~d api.test & ~u /v1/``)
cannot match a flow whose host fails those domain regexes. Such a rule keeps a
per-host memo of that verdict, so rejecting a flow to another host costs one
dict lookup instead of running the filter; ``Plan.select`` goes further and
keeps, per host, the ordered list of rules that can match it, so its cost is
flat in the number of rules that cannot match the host.

URL index (performance only, same results): a rule whose filter is ``~u RE``
(or ANDs one) can only match a URL containing the longest plain-text run of
RE (``~u /path12$`` needs ``/path12``). A plan with many such rules files
each under one short substring of that text; a request looks up its URL's own
substrings and asks only the rules found there (10,000 ``~u /pathN`` rules:
37 ms -> 0.07 ms per request). Non-ASCII URLs skip the shortcut.
"""

from __future__ import annotations

import io
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mitmproxy import flowfilter, http
from mitmproxy.net.http import url

from faults import gates as gatesmod, kinds, numbers, vocabulary, worker
from faults import spec as specmod
from faults.gates import Timing, clock
from faults.spec import FaultSpec, SpecError

RULE_KEYS = ("name", "match", "fault", "probability", "first", "every", "gates", "window", "requests", "max_active")
GATES = ("worker", "global")  # where first/every/probability count: per worker process, or across all
# Stated limits: past them input is refused with the limit named.
MAX_PLAN_BYTES = 4 * 1024 * 1024  # a plan file (or control request body)
MAX_RULES = 10_000  # rules in one plan, option or control request
MAX_MATCH_CHARS = 4096  # a flow filter
HOST_MEMO_MAX = 4096  # per rule / per plan: distinct hosts remembered before the memo is cleared


# -- filters on the response ------------------------------------------------

# flowfilter codes that read the response head: a rule using one is decided when
# the upstream's response head arrives (level "response"), and acts then.
RESPONSE_FILTERS = {"s": "~s", "c": "~c", "a": "~a", "ts": "~ts", "hs": "~hs"}
# and the body: decided once the whole upstream body is in, before any of it is sent
# (level "response_body")
BODY_FILTERS = {"bs": "~bs"}
# codes that can never match as meant when a rule is decided (at the request or at
# the response): refused at load, with why.
NEVER_FILTERS = {
    "e": ("~e", "it reads the flow's error, and a flow with an error has no response left to fault: "
                "it would never match"),
    "replays": ("~replays", "it matches responses mitmproxy replayed, which no upstream sent: it would never match"),
}


def _codes(filt):
    stack = [filt]
    while stack:
        f = stack.pop()
        code = getattr(type(f), "code", None)
        if code:
            yield code
        stack.extend(getattr(f, "lst", ()))
        if isinstance(f, flowfilter.FNot):
            stack.append(f.itm)


def response_filter(filt) -> str | None:
    """The first response filter used anywhere in ``filt``, e.g. ``'~c'``; a body filter
    (``~bs``) first if there is one: it decides when the rule can be decided."""
    codes = list(_codes(filt))
    return next((BODY_FILTERS[c] for c in codes if c in BODY_FILTERS), None) or \
        next((RESPONSE_FILTERS[c] for c in codes if c in RESPONSE_FILTERS), None)


def parse_filter(text: str):
    """A mitmproxy flow filter a rule can be decided on, or a SpecError saying why not."""
    if len(text) > MAX_MATCH_CHARS:
        raise SpecError(f"flow filter is {len(text)} characters long (the limit is {MAX_MATCH_CHARS})")
    try:
        filt = flowfilter.parse(text)
    except ValueError:
        raise SpecError(f"invalid flow filter {text!r} (see mitmproxy's filter expressions: ~d, ~u, ~m, ~h, ~q, ...)") from None
    bad = next((NEVER_FILTERS[c] for c in _codes(filt) if c in NEVER_FILTERS), None)
    if bad:
        raise SpecError(f"flow filter {text!r} uses {bad[0]}: {bad[1]}")
    _client_domains(filt)
    return filt


# -- the name the client used ------------------------------------------------
# Reverse mode without keep_host_header: mitmproxy rewrites the Host header (HTTP/2:
# :authority) to the upstream's before any hook, so mitmproxy's own ``~d`` sees only the
# upstream. The HTTP layer keeps what the client sent (faults.wire.h2layer), and our
# ``~d`` matches it too: ``~d up\.test`` selects the requests a client sent to
# http://up.test:8080/ through the reverse proxy (docs/hostile-inputs.md, docs/dns.md).

def client_host(flow) -> str:
    """The host name a reverse-mode client sent (before the rewrite), or ""."""
    raw = getattr(flow.request, vocabulary.CLIENT_HOST_ATTR, None)
    if not raw:
        return ""
    try:
        return url.parse_authority(raw, check=False)[0]
    except ValueError:
        return ""


class ClientDomain(flowfilter.FDomain):
    """``~d RE``: mitmproxy's (target host or Host header), or the name the client used."""

    def __call__(self, f) -> bool:
        if super().__call__(f):
            return True
        name = client_host(f) if isinstance(f, http.HTTPFlow) else ""
        return bool(name) and bool(self.re.search(name))


def _client_domains(filt) -> None:
    """Every ``~d`` in ``filt`` becomes a ``ClientDomain`` (same regex, same state)."""
    stack = [filt]
    while stack:
        f = stack.pop()
        if type(f) is flowfilter.FDomain:
            f.__class__ = ClientDomain
        stack.extend(getattr(f, "lst", ()))
        if isinstance(f, flowfilter.FNot):
            stack.append(f.itm)


# -- host index ------------------------------------------------------------

def domain_gate(filt) -> tuple[re.Pattern, ...] | None:
    """The ``~d`` regexes that must all match the host for ``filt`` to match:
    ``filt`` itself if it is ``~d RE``, its ``~d`` conjuncts if it is an ``&``
    (nested ``&`` included). None when the filter puts no such condition."""
    if isinstance(filt, flowfilter.FDomain):
        return (filt.re,)
    if isinstance(filt, flowfilter.FAnd):
        found: list[re.Pattern] = []
        stack = list(filt.lst)
        while stack:
            f = stack.pop(0)
            if isinstance(f, flowfilter.FDomain):
                found.append(f.re)
            elif isinstance(f, flowfilter.FAnd):
                stack[:0] = f.lst
        return tuple(found) or None
    return None


_generation = 0  # bumped whenever a rule's filter is set: plan indexes rebuild


def generation() -> int:
    """Bumped whenever a rule's filter is replaced: what a cache over rules' filters keys on."""
    return _generation


_key_memo: list = [None, None, None, None, None]  # flow, host, authority, header fields, key


def host_key(flow) -> tuple[str, str, str] | None:
    """What ``~d`` looks at: (request.host, request.pretty_host, the name a
    reverse-mode client used or ""); None for a non-HTTP flow (``~d`` never matches those). Remembered for the most recent
    flow while its host, authority and headers are unchanged, so a selection
    pass over many rules computes it once."""
    if not isinstance(flow, http.HTTPFlow):
        return None
    data = flow.request.data
    m = _key_memo
    if m[0] is flow and m[1] is data.host and m[2] is data.authority and m[3] is data.headers.fields:
        return m[4]
    key = (flow.request.host, flow.request.pretty_host, client_host(flow))
    m[:] = [flow, data.host, data.authority, data.headers.fields, key]
    return key


def _gate_passes(gate: tuple[re.Pattern, ...], key: tuple[str, str, str]) -> bool:
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


# -- URL index ---------------------------------------------------------------

URL_INDEX_MIN = 32  # URL-gated rules in a plan before the index pays for itself
GRAM = 4  # literals are filed under one substring of this length (shorter ones: whole)


def url_literal(filt) -> tuple[str, bool] | None:
    """A text that every URL matching ``filt`` contains, and whether it compares
    case-insensitively: the longest run of plain characters in the regex of
    ``~u RE`` (or of an ``&`` conjunct ``~u RE``). ``~u /path12$`` -> ``/path12``.
    ASCII only, so lower-casing an ASCII URL is exactly what IGNORECASE does."""
    import re._parser as sre

    urls = [filt] if isinstance(filt, flowfilter.FUrl) else []
    stack = list(filt.lst) if isinstance(filt, flowfilter.FAnd) else []
    while stack:
        f = stack.pop()
        if isinstance(f, flowfilter.FUrl):
            urls.append(f)
        elif isinstance(f, flowfilter.FAnd):
            stack.extend(f.lst)
    best = None
    for f in urls:
        try:
            items = list(sre.parse(f.re.pattern, f.re.flags))
        except Exception:
            continue
        run, runs = [], []
        for op, arg in items + [(None, None)]:
            if op is sre.LITERAL and arg < 128:
                run.append(chr(arg))
            else:
                runs.append("".join(run))
                run = []
        icase = bool(f.re.flags & re.IGNORECASE)
        lit = max(runs, key=len)
        lit = lit.lower() if icase else lit
        if lit and (best is None or len(lit) > len(best[0])):
            best = (lit, icase)
    return best


class UrlIndex:
    """URL-gated rules filed by one short substring of their literal (the one
    fewest other literals share), so a URL finds the few rules whose literal
    it may contain by looking up its own substrings: cost in the URL's length,
    not in the number of rules."""

    def __init__(self, gated: list[tuple["Rule", str, bool]]):
        self.buckets: tuple[dict, dict] = ({}, {})  # case-sensitive, case-insensitive
        self.lengths: tuple[set, set] = (set(), set())
        seen: dict = {}
        for _, lit, icase in gated:
            for g in _grams(lit):
                seen[(icase, g)] = seen.get((icase, g), 0) + 1
        for rule, lit, icase in gated:
            gram = min(_grams(lit), key=lambda g: seen[(icase, g)])
            self.buckets[icase].setdefault(gram, []).append((lit, rule))
            self.lengths[icase].add(len(gram))
        self.lookups = 0  # for tests: the index was used

    def hits(self, url: str) -> set:
        """The indexed rules whose literal occurs in ``url`` (an ASCII URL)."""
        self.lookups += 1
        found = set()
        for icase, text in ((False, url), (True, url.lower())):
            buckets = self.buckets[icase]
            for n in self.lengths[icase]:
                for i in range(len(text) - n + 1):
                    for lit, rule in buckets.get(text[i:i + n], ()):
                        if lit in text:
                            found.add(rule)
        return found


def _grams(lit: str) -> set[str]:
    if len(lit) <= GRAM:
        return {lit}
    return {lit[i:i + GRAM] for i in range(len(lit) - GRAM + 1)}


@dataclass(eq=False)
class Rule:
    spec: FaultSpec
    match: str | None = None
    name: str | None = None
    probability: float | None = None
    first: int | None = None
    every: int | None = None
    gates: str = "worker"  # "global": first/every/probability count across every worker (faults.counter)
    timing: Timing | None = None  # window, requests, a ramped probability, max_active (faults.gates)
    where: str = ""
    seed: Any = None
    epoch: str = ""  # with the identity, names this rule's global count (a new rule set counts afresh)
    matched: int = 0
    applied: int = 0
    fault: kinds.Fault = field(init=False, repr=False)
    rng: random.Random = field(init=False, repr=False)
    gate: tuple | None = field(init=False, repr=False, default=None)
    _filter: Any = field(init=False, repr=False, default=None)
    _exact: bool = field(init=False, repr=False, default=False)
    _hosts: dict = field(init=False, repr=False, default_factory=dict)

    @property
    def filter(self):
        return self._filter

    @filter.setter
    def filter(self, value) -> None:
        """Replacing the filter re-derives the host gate and invalidates plan indexes."""
        global _generation
        replaced = self._filter is not None
        self._filter = value
        self.gate = domain_gate(value)
        self._exact = isinstance(value, flowfilter.FDomain)  # the gate is the whole filter
        self._hosts = {}
        if replaced:  # a new rule is not in any plan's index yet
            _generation += 1

    def __post_init__(self):
        self.filter = parse_filter(self.match) if self.match else flowfilter.match_all
        self.fault = kinds.instantiate(self.spec)
        reads = response_filter(self.filter) if self.match else None
        if reads:
            self._on_response(reads)
        if self.timing is not None and self.timing.max_active is not None and self.fault.level not in (
                "flow", "request_head", "response"):
            raise SpecError(f"max_active counts requests in flight; fault {self.spec.kind!r} acts on "
                            f"{ {'dns': 'DNS queries', 'quic': 'QUIC connections'}.get(self.fault.level, 'TLS handshakes')}")
        self.reseed(self.seed)

    def _on_response(self, reads: str) -> None:
        """A filter that reads the response: the rule is decided when the upstream's head
        arrives (``~bs``: once its whole body is in), so its fault must be one that can act
        from there."""
        level = self.fault.level
        body = reads in BODY_FILTERS.values()
        when = "once the upstream's whole response body is in" if body else "when the upstream's response head arrives"
        if level != "flow":
            what = {"request_head": "while the request arrives", "connection": "on the TLS handshake",
                    "dns": "on the DNS query"}.get(level, level)
            raise SpecError(f"flow filter {self.match!r} uses {reads}, which reads the response: the rule is "
                            f"decided {when}, but {self.spec.text!r} acts {what}, before any response: "
                            "it would never act")
        if body and self.fault.acts_on_response_head():
            raise SpecError(f"flow filter {self.match!r} uses ~bs, which reads the response body: the rule is "
                            f"decided {when}, but {self.spec.text!r} acts as the body streams, which is too "
                            "late to decide on it (decide at the head with ~c, ~hs, ~ts or ~a, or use a fault "
                            "that replaces the answer: status, reset, close, delay, truncate)")
        self.fault.level = "response_body" if body else "response"

    def may_match_host(self, key) -> bool:
        """False only when a flow with host key ``key`` cannot match the filter."""
        if self.gate is None:
            return True
        if key is None:
            return False
        ok = self._hosts.get(key)
        if ok is None:
            if len(self._hosts) >= HOST_MEMO_MAX:
                self._hosts.clear()
            ok = self._hosts[key] = _gate_passes(self.gate, key)
        return ok

    @property
    def label(self) -> str:
        return self.name or f"{self.where or 'rule'}"

    @property
    def identity(self) -> str:
        return self.name or f"{self.match or ''}|{self.spec.text}"

    def reseed(self, seed) -> None:
        self.seed = seed
        self.rng = random.Random(worker.derive_seed(seed, self.identity)) if seed is not None else random.Random()

    def select(self, flow) -> bool:
        """Count a match and decide whether this rule applies to ``flow``."""
        if self.gate is not None:
            # fast path (the injector calls this once per rule per request): the
            # flow's host key is memoised, then one dict lookup rejects the host
            m = _key_memo
            if m[0] is flow:
                data = flow.request.data
                key = m[4] if (m[1] is data.host and m[2] is data.authority and m[3] is data.headers.fields) \
                    else host_key(flow)
            else:
                key = host_key(flow)
            ok = self._hosts.get(key)
            if ok is None:
                ok = self.may_match_host(key)
            if not ok or (not self._exact and not self._filter(flow)):
                return False
        elif not self._filter(flow):
            return False
        self.matched += 1
        return self._gates(flow)

    def _gates(self, flow=None) -> bool:
        """The gates on the n-th match: per worker, or (``gates: global``) counted
        across all workers, where ``first: 1`` is the first request any worker saw
        and the draw for the n-th match is seeded by n, so it does not depend on
        which worker got that request."""
        timing = self.timing
        counted = self.first is not None or self.every is not None or self.probability is not None or (
            timing is not None and (timing.requests is not None or timing.ramp is not None))
        if self.gates == "global" and counted:
            n = worker.counter().next(f"{self.epoch}|{self.identity}")
            rng = random.Random(f"{self.seed}|{self.identity}|{n}") if self.seed is not None else self.rng
        else:
            n, rng = self.matched, self.rng
        if self.first is not None and n > self.first:
            return False
        if self.every is not None and n % self.every:
            return False
        p = self.probability
        if timing is not None:
            t = None
            if timing.timed():
                # the request's own start, the ``t`` its record carries (the decision may come
                # later: at the request's end, or at the response head)
                at = getattr(getattr(flow, "request", None), "timestamp_start", None)
                t = clock.t(at)
                if t is None:  # no request started the clock (e.g. a TLS handshake comes first)
                    clock.start(at)
                    t = 0.0
            if not timing.admits(n, t):
                return False
            if timing.ramp is not None:
                p = timing.p(n, t)
        if p is not None and rng.random() >= p:
            return False
        if timing is not None and timing.max_active is not None and not timing.take():
            return False  # its caller (the injector) releases the slot when the flow ends
        self.applied += 1
        return True

    def release(self) -> None:
        """A flow this rule faulted has ended (max_active counts it no more)."""
        if self.timing is not None:
            self.timing.release()

    def describe(self) -> dict:
        return {
            "name": self.name, "match": self.match, "fault": self.spec.text,
            "probability": self.probability, "first": self.first, "every": self.every, "gates": self.gates,
            "where": self.where, "matched": self.matched, "applied": self.applied,
            **({"phase": self.fault.level} if self.fault.level.startswith("response") else {}),
            **(self.timing.describe() if self.timing is not None else {}),
        }


@dataclass
class Plan:
    rules: list[Rule] = field(default_factory=list)
    seed: Any = None

    _index: dict = field(init=False, repr=False, default_factory=dict, compare=False)
    _stamp: tuple = field(init=False, repr=False, default=(), compare=False)
    _urls: Any = field(init=False, repr=False, default=False, compare=False)  # False: not built yet
    _split: dict = field(init=False, repr=False, default_factory=dict, compare=False)
    _levels: Any = field(init=False, repr=False, default=None, compare=False)  # None: not computed yet

    def select(self, flow, level: str | None = None) -> Rule | None:
        """The first rule (of fault level ``level``, if given) that applies to
        ``flow``; rules that cannot match its host or URL are skipped unseen."""
        for rule in self.ordered(flow, level):
            if rule.select(flow):
                return rule
        return None

    def ordered(self, flow, level: str | None = None):
        """``candidates`` narrowed by the URL index: the URL-gated rules whose
        literal the URL does not contain are left out, order kept."""
        cands = self.candidates(flow, level)
        urls = self.url_index()
        if urls is None or len(cands) < URL_INDEX_MIN or not isinstance(flow, http.HTTPFlow):
            return cands
        url = flow.request.pretty_url
        if not url.isascii():  # lower() is IGNORECASE only for ASCII: no shortcut
            return cands
        slot = (host_key(flow), level)
        split = self._split.get(slot)
        if split is None or split[0] is not cands:
            if len(self._split) >= HOST_MEMO_MAX:
                self._split.clear()
            split = self._split[slot] = self._split_of(cands)
        _, rest, rest_rules, allowed = split
        hits = [(self._pos[r], r) for r in urls.hits(url) if r in allowed]
        if not hits:
            return rest_rules
        return [r for _, r in sorted(rest + hits, key=lambda pr: pr[0])]

    def _split_of(self, cands) -> tuple:
        """(cands, the rules not in the URL index with their positions, the same
        without positions, the indexed ones)."""
        gated = self._gated
        rest = [(self._pos[r], r) for r in cands if r not in gated]
        return cands, rest, tuple(r for _, r in rest), {r for r in cands if r in gated}

    def warm(self) -> "Plan":
        """Build the indexes now (e.g. in the reload thread), not on the first request."""
        self.reindex()
        self.url_index()
        return self

    def url_index(self) -> UrlIndex | None:
        """Built on first use after a reindex; None when too few rules are URL-gated."""
        if self._urls is False:
            gated = []
            for r in self.rules:
                lit = url_literal(r.filter)
                if lit:
                    gated.append((r, *lit))
            self._gated = {r for r, _, _ in gated}
            self._pos = {r: i for i, r in enumerate(self.rules)}
            self._urls = UrlIndex(gated) if len(gated) >= URL_INDEX_MIN else None
        return self._urls

    def candidates(self, flow, level: str | None = None) -> tuple[Rule, ...]:
        """The rules, in order, that may match ``flow`` given its host (and of
        fault level ``level``). Rebuilt when ``rules`` is replaced or changes
        length, or when any rule's filter is replaced; after replacing a list
        element in place call ``reindex()``."""
        rules, stamp = self.rules, self._stamp
        if not stamp or stamp[0] is not rules or stamp[1] != len(rules) or stamp[2] != _generation:
            self.reindex()
        key = host_key(flow)
        slot = (key, level)
        hit = self._index.get(slot)
        if hit is None:
            if len(self._index) >= HOST_MEMO_MAX:
                self._index.clear()
            hit = self._index[slot] = tuple(
                r for r in rules if (level is None or r.fault.level == level) and r.may_match_host(key)
            )
        return hit

    def has_level(self, level: str) -> bool:
        """Whether any rule is of fault level ``level`` (one set lookup: the injector asks
        at every response head whether a response rule exists at all)."""
        rules, stamp = self.rules, self._stamp
        if not stamp or stamp[0] is not rules or stamp[1] != len(rules) or stamp[2] != _generation:
            self.reindex()
        if self._levels is None:
            self._levels = {r.fault.level for r in rules}
        return level in self._levels

    def reindex(self) -> None:
        self._levels = None
        self._index = {}
        self._split = {}
        self._urls = False
        self._stamp = (self.rules, len(self.rules), _generation)

    def __add__(self, other: "Plan") -> "Plan":
        return Plan(self.rules + other.rules, self.seed if self.seed is not None else other.seed)


# -- building rules --------------------------------------------------------

def _selection(raw: dict[str, Any]) -> dict[str, Any]:
    """Typed selection keys. Strings come from the option form (``first=3``);
    YAML gives numbers. Types are exact: no bool, list or float for a count."""
    out: dict[str, Any] = {}
    if raw.get("name") is not None:
        name = raw["name"]
        if isinstance(name, bool) or not isinstance(name, (str, int)):
            raise SpecError(f"name={name!r}: expected a text")
        out["name"] = str(name)
    if raw.get("probability") is not None:
        out["probability"] = gatesmod.probability(raw["probability"])
    for key in ("first", "every", "max_active"):
        if raw.get(key) is not None:
            out[key] = gatesmod.count(raw[key], key)
    if raw.get("window") is not None:
        out["window"] = gatesmod.window(raw["window"])
    if raw.get("requests") is not None:
        out["requests"] = gatesmod.requests(raw["requests"])
    if raw.get("gates") is not None:
        g = raw["gates"]
        if g not in GATES:
            raise SpecError(f"gates={g!r}: expected one of {', '.join(GATES)} (where first/every/probability "
                            "count: per worker process, the default, or across all workers)")
        out["gates"] = g
    out["timing"], out["probability"] = Timing.build(out)
    for key in ("window", "requests", "max_active"):
        out.pop(key, None)
    if out["probability"] is None:
        del out["probability"]
    return out


def _seed(value: Any, where: str):
    """A plan seed is a whole number or a text (it seeds each rule's RNG)."""
    if value is None or (isinstance(value, (str, int)) and not isinstance(value, bool)):
        return value if not isinstance(value, int) else int(value)
    raise SpecError(f"seed={value!r}: expected a whole number or a text", where)


def short(text: str, limit: int = 120) -> str:
    """``text`` for an error message or a label: a huge entry is not echoed whole."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def rule_from_option(text: str, index: int, seed=None) -> Rule:
    """One entry of the ``faults`` option: ``[SEP filter SEP] spec``."""
    where = f"faults option entry {index} ({short(text)!r})"
    try:
        text = text.strip()
        if not text:
            raise SpecError("empty entry")
        match = None
        if not (text[0].isalnum() or text[0] == "_"):
            sep, rest = text[0], text[1:]
            match, sep_found, spec_text = rest.partition(sep)
            if not sep_found:
                raise SpecError(
                    f"expected {sep}filter{sep}fault-spec (separator {sep!r} appears once)"
                )
            match = match.strip() or None
        else:
            spec_text = text
        fault, inline = specmod.parse(spec_text, allow_selection=True)
        return Rule(match=match, spec=fault, where=where, seed=seed, **_selection(inline))
    except SpecError as e:
        raise e.at(where) from None


def rule_from_header(value: str) -> Rule:
    """The ``x-fault`` header: bounded before any parsing (a 1 MiB header costs
    one length check), UTF-8 only, and only faults that act on one request."""
    if len(value) > specmod.MAX_SPEC_CHARS:
        raise SpecError(f"{len(value)} characters long (the limit is {specmod.MAX_SPEC_CHARS})")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # mitmproxy decodes header bytes with surrogateescape
        raise SpecError("not UTF-8 text") from None
    kind = specmod.split_words(value)[0]
    cls = kinds.all_kinds().get(kind)
    if cls is not None and cls.level in ("connection", "dns"):
        what = "the DNS query" if cls.level == "dns" else "the connection"
        raise SpecError(f"fault {kind!r} acts on {what} (before any request exists), "
                        "not on one request: set it in the plan or the faults option")
    fault, _ = specmod.parse(value)
    return Rule(spec=fault, where="x-fault header")


def rule_from_mapping(raw: Any, where: str, seed=None) -> Rule:
    if not isinstance(raw, dict):
        raise SpecError(f"a rule must be a mapping with match/fault keys, got {type(raw).__name__}", where)
    unknown = [k for k in raw if k not in RULE_KEYS]
    if unknown:
        hints = "".join(specmod.did_you_mean(k, RULE_KEYS) for k in unknown[:1])
        raise SpecError(f"unknown rule key(s) {', '.join(map(repr, unknown))}{hints} "
                        f"(known: {', '.join(RULE_KEYS)})", where)
    try:
        fault = raw.get("fault")
        if isinstance(fault, list):  # a stack: [delay ms=200, status code=503]
            if len(fault) > 16:
                raise SpecError(f"a fault list of {len(fault)} faults (the limit is 16)")
            spec = specmod.stack([_one_fault(f) for f in fault])
        else:
            spec = _one_fault(fault)
        match = raw.get("match")
        if match is not None and not isinstance(match, str):
            raise SpecError(f"match must be a flow filter string, got {match!r}")
        return Rule(match=match, spec=spec, where=where, seed=seed, **_selection(raw))
    except SpecError as e:
        raise e.at(where) from None


def _one_fault(fault: Any):
    """A rule's ``fault`` (or one entry of its list): a spec string or a mapping with ``kind``."""
    if isinstance(fault, str):
        return specmod.parse(fault)[0]
    if isinstance(fault, dict):
        params = dict(fault)
        kind = params.pop("kind", None)
        if not kind:
            raise SpecError("fault mapping needs a 'kind' key")
        if not isinstance(kind, str):
            raise SpecError(f"kind={kind!r}: expected a fault kind name")
        return specmod.build(kind.lower(), params)
    raise SpecError("rule needs a 'fault': a spec string, a mapping with 'kind', or a list of those")


def _yaml():
    """A round-trip loader (for line numbers) that refuses aliases: ``*name``
    shares a node, and a few lines of nested aliases expand to gigabytes the
    moment anything walks them (the billion laughs)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.composer import Composer
    from ruamel.yaml.events import AliasEvent

    class NoAliases(Composer):
        def compose_node(self, parent, index):
            if self.parser.check_event(AliasEvent):
                ev = self.parser.peek_event()
                raise SpecError(f"line {ev.start_mark.line + 1}: YAML alias *{ev.anchor} refused "
                                "(aliases can expand without bound; repeat the value instead)")
            return super().compose_node(parent, index)

    yaml = YAML(typ="rt")
    yaml.Composer = NoAliases
    yaml.Constructor = numbers.yaml_int_guard(yaml.Constructor)  # 5,000 digits: one line, not int()'s error
    return yaml


def parse_yaml(text: str, source: str):
    """YAML text -> its document (round-trip nodes, aliases refused); every error is a
    one-line ``SpecError`` naming ``source`` and the line."""
    from ruamel.yaml.error import YAMLError

    if len(text) > MAX_PLAN_BYTES:
        raise SpecError(f"plan is larger than {MAX_PLAN_BYTES // 1024 // 1024} MiB (the limit)", source)
    try:
        doc = _yaml().load(io.StringIO(text))
    except SpecError as e:
        raise e.at(source) from None
    except YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise SpecError(f"invalid YAML{line}: {getattr(e, 'problem', None) or e}", source) from None
    except RecursionError:
        raise SpecError("invalid YAML: nested too deeply", source) from None
    return doc


def load_yaml(text: str, source: str) -> Plan:
    """Parse a YAML plan; every error names the file, rule index and line."""
    doc = parse_yaml(text, source)
    if doc is None:
        return Plan()
    if isinstance(doc, list):
        doc = {"rules": doc}
    if not isinstance(doc, dict):
        raise SpecError("a plan is a mapping with 'rules' (and optional 'seed') or a list of rules", source)
    unknown = [k for k in doc if k not in ("seed", "rules")]
    if unknown:
        raise SpecError(f"unknown top-level key(s) {', '.join(map(repr, unknown))}"
                        f"{specmod.did_you_mean(unknown[0], ('seed', 'rules'))} (known: seed, rules)", source)
    seed = _seed(doc.get("seed"), source)
    rules_raw = doc.get("rules") or []
    if not isinstance(rules_raw, list):
        raise SpecError("'rules' must be a list", source)
    if len(rules_raw) > MAX_RULES:
        raise SpecError(f"{len(rules_raw)} rules (the limit is {MAX_RULES})", source)
    rules = []
    for i, raw in enumerate(rules_raw):
        try:
            line = rules_raw.lc.item(i)[0] + 1
        except Exception:
            line = None
        where = f"{source}: rule {i + 1}" + (f" (line {line})" if line else "")  # counted from 1, like lines
        try:
            rules.append(rule_from_mapping(raw, where, seed))
        except SpecError:
            raise
        except Exception as e:  # a value no check foresaw: still one line, never a traceback
            raise SpecError(f"unusable value: {e!r}", where) from None
    return Plan(rules, seed).warm()


def load_file(path: str | Path) -> Plan:
    """Read and parse a plan file; any failure (missing, a directory,
    unreadable, too big, not UTF-8, bad content) is a ``SpecError``."""
    p = Path(path).expanduser()
    try:
        with p.open("rb") as fh:
            data = fh.read(MAX_PLAN_BYTES + 1)
    except (OSError, ValueError) as e:  # ValueError: e.g. a NUL byte in the path
        raise SpecError(f"cannot read fault plan: {getattr(e, 'strerror', None) or e}", str(p)) from None
    if len(data) > MAX_PLAN_BYTES:
        raise SpecError(f"fault plan is larger than {MAX_PLAN_BYTES // 1024 // 1024} MiB (the limit)", str(p))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SpecError(f"fault plan is not UTF-8 text (byte {e.start})", str(p)) from None
    return load_yaml(text, str(p))
