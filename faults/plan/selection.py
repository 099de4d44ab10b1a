"""The plan: ordered rules, and the first that applies to a flow.

Rules are tried in order and the first rule that applies wins. The host index
(``faults.plan.host_index``) and the URL index (``faults.plan.url_index``) leave out,
unseen, the rules that cannot match a flow's host or URL: the same choices and
counters as trying every rule, at a cost flat in the number of rules left out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mitmproxy import http

from faults.memo import remember
from faults.plan import limits, rule as rulemod, url_index as urlmod
from faults.plan.host_index import host_key
from faults.plan.rule import Rule


@dataclass
class Plan:
    rules: list[Rule] = field(default_factory=list)
    seed: Any = None

    _index: dict = field(init=False, repr=False, default_factory=dict, compare=False)
    # what the indexes were built from: the ``rules`` list, its length, the filters' generation
    _built_from: Any = field(init=False, repr=False, default=None, compare=False)
    _built_len: int = field(init=False, repr=False, default=-1, compare=False)
    _built_gen: int = field(init=False, repr=False, default=-1, compare=False)
    _urls: Any = field(init=False, repr=False, default=False, compare=False)  # False: not built yet
    _split: dict = field(init=False, repr=False, default_factory=dict, compare=False)
    _levels: frozenset = field(init=False, repr=False, default=frozenset(), compare=False)

    def select(self, flow, level: str | None = None) -> Rule | None:
        """The first rule (of fault level ``level``, if given) that applies to
        ``flow``; rules that cannot match its host or URL are skipped unseen.
        Asked at each of a request's hooks, mostly to find nothing: a level no rule
        has costs one set lookup, a host no rule of the level can match one dict
        lookup (``_refresh`` inline: each call counts on this path)."""
        rules = self.rules
        if rules is not self._built_from or len(rules) != self._built_len or rulemod.filters_generation != self._built_gen:
            self.reindex()
        if level is not None and level not in self._levels:
            return None
        cands = self._index.get((host_key(flow), level))
        if cands is None:
            cands = self.candidates(flow, level)
        if not cands:
            return None
        for rule in (cands if len(cands) < urlmod.URL_INDEX_MIN else self.ordered(flow, level)):
            if rule.select(flow):
                return rule
        return None

    def ordered(self, flow, level: str | None = None):
        """``candidates`` narrowed by the URL index: the URL-gated rules whose
        literal the URL does not contain are left out, order kept."""
        cands = self.candidates(flow, level)
        urls = self.url_index()
        if urls is None or len(cands) < urlmod.URL_INDEX_MIN or not isinstance(flow, http.HTTPFlow):
            return cands
        url = flow.request.pretty_url
        if not url.isascii():  # lower() is IGNORECASE only for ASCII: no shortcut
            return cands
        slot = (host_key(flow), level)
        split = self._split.get(slot)
        if split is None or split[0] is not cands:
            split = remember(self._split, slot, self._split_of(cands), limits.HOST_MEMO_MAX)
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

    def warm(self) -> Plan:
        """Build the indexes now (e.g. in the reload thread), not on the first request."""
        self.reindex()
        self.url_index()
        return self

    def url_index(self) -> urlmod.UrlIndex | None:
        """Built on first use after a reindex; None when too few rules are URL-gated."""
        if self._urls is False:
            self._gated, self._urls = urlmod.index_rules(self.rules)
            self._pos = {r: i for i, r in enumerate(self.rules)}
        return self._urls

    def candidates(self, flow, level: str | None = None) -> tuple[Rule, ...]:
        """The rules, in order, that may match ``flow`` given its host (and of
        fault level ``level``). Rebuilt when ``rules`` is replaced or changes
        length, or when any rule's filter is replaced; after replacing a list
        element in place call ``reindex()``."""
        self._refresh()
        key = host_key(flow)
        slot = (key, level)
        hit = self._index.get(slot)
        if hit is None:
            hit = remember(self._index, slot, tuple(
                r for r in self.rules if (level is None or r.fault.level == level) and r.may_match_host(key)
            ), limits.HOST_MEMO_MAX)
        return hit

    def has_level(self, level: str) -> bool:
        """Whether any rule is of fault level ``level`` (one set lookup)."""
        self._refresh()
        return level in self._levels

    def _refresh(self) -> None:
        """Drop the indexes if ``rules`` was replaced or changed length, or a filter was."""
        rules = self.rules
        if rules is not self._built_from or len(rules) != self._built_len or rulemod.filters_generation != self._built_gen:
            self.reindex()

    def reindex(self) -> None:
        self._levels = frozenset(r.fault.level for r in self.rules)
        self._index = {}
        self._split = {}
        self._urls = False
        self._built_from, self._built_len, self._built_gen = self.rules, len(self.rules), rulemod.filters_generation

    def __add__(self, other: Plan) -> Plan:
        return Plan(self.rules + other.rules, self.seed if self.seed is not None else other.seed)
