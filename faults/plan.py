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
every Nth; ``probability``: a draw). The first rule that applies wins. Each
rule draws from its own RNG seeded by the plan seed and the rule's identity,
so adding or removing another rule does not change this rule's draws.

Host index (performance only, same results): a rule whose filter is ``~d RE``
or a conjunction containing ``~d RE`` conjuncts (``~d api.test & ~u /v1/``)
cannot match a flow whose host fails those domain regexes. Such a rule keeps a
per-host memo of that verdict, so rejecting a flow to another host costs one
dict lookup instead of running the filter; ``Plan.select`` goes further and
keeps, per host, the ordered list of rules that can match it, so its cost is
flat in the number of rules that cannot match the host.
"""

from __future__ import annotations

import io
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mitmproxy import flowfilter, http

from faults import kinds
from faults import spec as specmod
from faults.spec import FaultSpec, SpecError

RULE_KEYS = ("name", "match", "fault", "probability", "first", "every")
HOST_MEMO_MAX = 4096  # per rule / per plan: distinct hosts remembered before the memo is cleared


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

_key_memo: list = [None, None, None, None, None]  # flow, host, authority, header fields, key


def host_key(flow) -> tuple[str, str] | None:
    """What ``~d`` looks at: (request.host, request.pretty_host); None for a
    non-HTTP flow (``~d`` never matches those). Remembered for the most recent
    flow while its host, authority and headers are unchanged, so a selection
    pass over many rules computes it once."""
    if not isinstance(flow, http.HTTPFlow):
        return None
    data = flow.request.data
    m = _key_memo
    if m[0] is flow and m[1] is data.host and m[2] is data.authority and m[3] is data.headers.fields:
        return m[4]
    key = (flow.request.host, flow.request.pretty_host)
    m[:] = [flow, data.host, data.authority, data.headers.fields, key]
    return key


def _gate_passes(gate: tuple[re.Pattern, ...], key: tuple[str, str]) -> bool:
    host, pretty = key
    return all(p.search(host) or p.search(pretty) for p in gate)


@dataclass(eq=False)
class Rule:
    spec: FaultSpec
    match: str | None = None
    name: str | None = None
    probability: float | None = None
    first: int | None = None
    every: int | None = None
    where: str = ""
    seed: Any = None
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
        try:
            self.filter = flowfilter.parse(self.match) if self.match else flowfilter.match_all
        except ValueError as e:
            raise SpecError(f"invalid flow filter {self.match!r} (see mitmproxy's filter expressions: ~d, ~u, ~m, ~h, ~q, ...)") from None
        self.fault = kinds.instantiate(self.spec)
        self.reseed(self.seed)

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
        self.rng = random.Random(f"{seed}|{self.identity}") if seed is not None else random.Random()

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
        if self.first is not None and self.matched > self.first:
            return False
        if self.every is not None and self.matched % self.every:
            return False
        if self.probability is not None and self.rng.random() >= self.probability:
            return False
        self.applied += 1
        return True

    def describe(self) -> dict:
        return {
            "name": self.name, "match": self.match, "fault": self.spec.text,
            "probability": self.probability, "first": self.first, "every": self.every,
            "where": self.where, "matched": self.matched, "applied": self.applied,
        }


@dataclass
class Plan:
    rules: list[Rule] = field(default_factory=list)
    seed: Any = None

    _index: dict = field(init=False, repr=False, default_factory=dict, compare=False)
    _stamp: tuple = field(init=False, repr=False, default=(), compare=False)

    def select(self, flow, level: str | None = None) -> Rule | None:
        """The first rule (of fault level ``level``, if given) that applies to
        ``flow``; rules that cannot match its host are skipped unseen."""
        for rule in self.candidates(flow, level):
            if rule.select(flow):
                return rule
        return None

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

    def reindex(self) -> None:
        self._index = {}
        self._stamp = (self.rules, len(self.rules), _generation)

    def __add__(self, other: "Plan") -> "Plan":
        return Plan(self.rules + other.rules, self.seed if self.seed is not None else other.seed)


# -- building rules --------------------------------------------------------

def _selection(raw: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if raw.get("name") is not None:
        out["name"] = str(raw["name"])
    if raw.get("probability") is not None:
        try:
            p = float(raw["probability"])
        except (TypeError, ValueError):
            raise SpecError(f"probability={raw['probability']!r}: expected a number from 0 to 1") from None
        if not 0 <= p <= 1:
            raise SpecError(f"probability={p}: must be from 0 to 1")
        out["probability"] = p
    for key in ("first", "every"):
        if raw.get(key) is not None:
            v = raw[key]
            if isinstance(v, bool) or not str(v).isdigit() or int(v) < 1:
                raise SpecError(f"{key}={v!r}: expected a whole number >= 1")
            out[key] = int(v)
    return out


def rule_from_option(text: str, index: int, seed=None) -> Rule:
    """One entry of the ``faults`` option: ``[SEP filter SEP] spec``."""
    where = f"faults option entry {index} ({text!r})"
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
    fault, _ = specmod.parse(value)
    return Rule(spec=fault, where="x-fault header")


def rule_from_mapping(raw: Any, where: str, seed=None) -> Rule:
    if not isinstance(raw, dict):
        raise SpecError(f"a rule must be a mapping with match/fault keys, got {type(raw).__name__}", where)
    unknown = [k for k in raw if k not in RULE_KEYS]
    if unknown:
        raise SpecError(f"unknown rule key(s) {', '.join(map(repr, unknown))} (known: {', '.join(RULE_KEYS)})", where)
    try:
        fault = raw.get("fault")
        if isinstance(fault, str):
            spec = specmod.parse(fault)[0]
        elif isinstance(fault, dict):
            params = dict(fault)
            kind = params.pop("kind", None)
            if not kind:
                raise SpecError("fault mapping needs a 'kind' key")
            spec = specmod.build(str(kind).lower(), params)
        else:
            raise SpecError("rule needs a 'fault': a spec string or a mapping with 'kind'")
        match = raw.get("match")
        if match is not None and not isinstance(match, str):
            raise SpecError(f"match must be a flow filter string, got {match!r}")
        return Rule(match=match, spec=spec, where=where, seed=seed, **_selection(raw))
    except SpecError as e:
        raise e.at(where) from None


def load_yaml(text: str, source: str) -> Plan:
    """Parse a YAML plan; every error names the file, rule index and line."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        doc = YAML(typ="rt").load(io.StringIO(text))
    except YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise SpecError(f"invalid YAML{line}: {getattr(e, 'problem', None) or e}", source) from None
    if doc is None:
        return Plan()
    if isinstance(doc, list):
        doc = {"rules": doc}
    if not isinstance(doc, dict):
        raise SpecError("a plan is a mapping with 'rules' (and optional 'seed') or a list of rules", source)
    unknown = [k for k in doc if k not in ("seed", "rules")]
    if unknown:
        raise SpecError(f"unknown top-level key(s) {', '.join(map(repr, unknown))} (known: seed, rules)", source)
    seed = doc.get("seed")
    rules_raw = doc.get("rules") or []
    if not isinstance(rules_raw, list):
        raise SpecError("'rules' must be a list", source)
    rules = []
    for i, raw in enumerate(rules_raw):
        try:
            line = rules_raw.lc.item(i)[0] + 1
        except Exception:
            line = None
        where = f"{source}: rule {i + 1}" + (f" (line {line})" if line else "")  # counted from 1, like lines
        rules.append(rule_from_mapping(raw, where, seed))
    return Plan(rules, seed)


def load_file(path: str | Path) -> Plan:
    p = Path(path).expanduser()
    try:
        text = p.read_text()
    except OSError as e:
        raise SpecError(f"cannot read fault plan: {e.strerror}", str(p)) from None
    return load_yaml(text, str(p))
