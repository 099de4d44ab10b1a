"""One rule: a flow filter, a fault, and the gates that decide whether it applies.

A rule applies when its filter matches and its gates pass (``first``: only the first N
matching flows; ``every``: every Nth; ``probability``: a draw; ``window``, ``requests``, a
ramped ``probability`` and ``max_active``: ``faults.gates``, docs/time.md). Each rule draws
from its own RNG seeded by the plan seed and the rule's identity, so adding or removing
another rule does not change this rule's draws. A rule whose filter reads the response
head (``~c``, ``~hs``, ...) has level "response": the injector decides it when the
upstream's head arrives."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from mitmproxy import flowfilter

from faults import kinds, worker
from faults.gates import Timing, clock
from faults.memo import remember
from faults.plan import limits
from faults.plan.host_index import domain_gate, gate_passes, host_key, key_memo
from faults.plan.filters import BODY_FILTERS, parse_filter, response_filter
from faults.spec import FaultSpec, SpecError

# bumped whenever a rule's filter is replaced: plan indexes rebuild. Read as
# ``rule.filters_generation`` where each call counts (``Plan.select``), else ``generation()``.
filters_generation = 0


def generation() -> int:
    """Bumped whenever a rule's filter is replaced: what a cache over rules' filters keys on."""
    return filters_generation


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
        global filters_generation
        replaced = self._filter is not None
        self._filter = value
        self.gate = domain_gate(value)
        self._exact = isinstance(value, flowfilter.FDomain)  # the gate is the whole filter
        self._hosts = {}
        if replaced:  # a new rule is not in any plan's index yet
            filters_generation += 1

    def __post_init__(self):
        self.filter = parse_filter(self.match) if self.match else flowfilter.match_all
        self.fault = kinds.instantiate(self.spec)
        reads = response_filter(self.filter) if self.match else None
        if reads:
            self._on_response(reads)
        self._check_max_active()
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

    def _check_max_active(self) -> None:
        """``max_active`` counts requests in flight: refused on a fault that acts on no request."""
        level = self.fault.level
        if self.timing is None or self.timing.max_active is None or level in ("flow", "request_head", "response"):
            return
        what = {"dns": "DNS queries", "quic": "QUIC connections"}.get(level, "TLS handshakes")
        raise SpecError(f"max_active counts requests in flight; fault {self.spec.kind!r} acts on {what}")

    def may_match_host(self, key) -> bool:
        """False only when a flow with host key ``key`` cannot match the filter."""
        if self.gate is None:
            return True
        if key is None:
            return False
        ok = self._hosts.get(key)
        if ok is None:
            ok = remember(self._hosts, key, gate_passes(self.gate, key), limits.HOST_MEMO_MAX)
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
            m = key_memo
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
        """The gates on this match: first, every, the time gates, the draw, max_active."""
        n, rng = self._nth()
        if self.first is not None and n > self.first:
            return False
        if self.every is not None and n % self.every:
            return False
        p, timing = self.probability, self.timing
        if timing is not None:
            t = _run_time(flow) if timing.timed() else None
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

    def _nth(self) -> tuple[int, random.Random]:
        """Which match this is, and the RNG to draw for it: per worker, or (``gates:
        global``) counted across all workers, where ``first: 1`` is the first request any
        worker saw and the draw for the n-th match is seeded by n, so it does not depend
        on which worker got that request."""
        timing = self.timing
        counted = self.first is not None or self.every is not None or self.probability is not None or (
            timing is not None and (timing.requests is not None or timing.ramp is not None))
        if self.gates == "global" and counted:
            n = worker.counter().next(f"{self.epoch}|{self.identity}")
            return n, (random.Random(f"{self.seed}|{self.identity}|{n}") if self.seed is not None else self.rng)
        return self.matched, self.rng

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


def _run_time(flow) -> float:
    """How old the run was when ``flow``'s request started: the ``t`` its record carries
    (the decision may come later: at the request's end, or at the response head)."""
    at = getattr(getattr(flow, "request", None), "timestamp_start", None)
    t = clock.t(at)
    if t is None:  # no request started the clock (e.g. a TLS handshake comes first)
        clock.start(at)
        t = 0.0
    return t
