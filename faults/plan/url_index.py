"""The URL index (performance only, same results).

A rule whose filter is ``~u RE`` (or ANDs one) can only match a URL containing the
longest plain-text run of RE (``~u /path12$`` needs ``/path12``). A plan with many such
rules files each under one short substring of that text; a request looks up its URL's
own substrings and asks only the rules found there (10,000 ``~u /pathN`` rules: 37 ms ->
0.07 ms per request). Non-ASCII URLs skip the shortcut (``Plan.ordered``)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from mitmproxy import flowfilter

from faults.plan.filters import conjuncts

if TYPE_CHECKING:
    from faults.plan.rule import Rule

URL_INDEX_MIN = 32  # URL-gated rules in a plan before the index pays for itself
GRAM = 4  # literals are filed under one substring of this length (shorter ones: whole)


def url_literal(filt) -> tuple[str, bool] | None:
    """A text that every URL matching ``filt`` contains, and whether it compares
    case-insensitively: the longest run of plain characters in the regex of
    ``~u RE`` (or of an ``&`` conjunct ``~u RE``). ``~u /path12$`` -> ``/path12``.
    ASCII only, so lower-casing an ASCII URL is exactly what IGNORECASE does."""
    best = None
    # any conjunct's literal is sound; the longest narrows most (a tie: the last one,
    # the index has always filed it so)
    for f in reversed(list(conjuncts(filt))):
        lit = _longest_literal(f.re) if isinstance(f, flowfilter.FUrl) else None
        if lit and lit[0] and (best is None or len(lit[0]) > len(best[0])):
            best = lit
    return best


def _longest_literal(rx: re.Pattern) -> tuple[str, bool] | None:
    """The longest run of plain ASCII characters in ``rx`` (lower-cased if it ignores
    case), and whether it does; None for a pattern the parser refuses."""
    import re._parser as sre

    try:
        items = list(sre.parse(rx.pattern, rx.flags))
    except Exception:
        return None
    run, runs = [], []
    for op, arg in items + [(None, None)]:
        if op is sre.LITERAL and arg < 128:
            run.append(chr(arg))
        else:
            runs.append("".join(run))
            run = []
    icase = bool(rx.flags & re.IGNORECASE)
    lit = max(runs, key=len)
    return (lit.lower() if icase else lit), icase


def index_rules(rules) -> tuple[set, UrlIndex | None]:
    """The URL-gated ``rules``, and their index (None when too few for it to pay)."""
    gated = []
    for r in rules:
        lit = url_literal(r.filter)
        if lit:
            gated.append((r, *lit))
    return {r for r, _, _ in gated}, (UrlIndex(gated) if len(gated) >= URL_INDEX_MIN else None)


class UrlIndex:
    """URL-gated rules filed by one short substring of their literal (the one
    fewest other literals share), so a URL finds the few rules whose literal
    it may contain by looking up its own substrings: cost in the URL's length,
    not in the number of rules."""

    def __init__(self, gated: list[tuple[Rule, str, bool]]):
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
