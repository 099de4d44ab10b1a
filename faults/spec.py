"""The one fault-spec grammar: ``KIND key=value ...``.

Shared by the YAML plan, the ``faults`` option and the ``x-fault`` header.
Values may be quoted shell-style (``status code=503 body="try later"``).
Parsing checks every key against the fault kind's declared parameters, so a
typo is reported at load time, with where it came from, never mid-traffic.
"""

from __future__ import annotations

import difflib
import shlex
from dataclasses import dataclass, field
from typing import Any

from faults import kinds
from faults.errors import SpecError

__all__ = ["SELECTION_KEYS", "FaultSpec", "SpecError", "StackSpec", "build", "kind_of", "parse", "split_words", "stack"]

# Keys that choose *which* flows a rule applies to rather than what the fault
# does; the option and header forms accept them inline, the YAML form as
# rule fields.
SELECTION_KEYS = ("name", "probability", "first", "every", "gates", "window", "requests", "max_active")
# Joins the faults of a stack in the inline form: ``delay ms=200 + status code=503``.
STACK_SEP = "+"
# Kinds that only slow an exchange down: any number of them stack with one fault
# that decides what the client gets (faults.kinds._stack).
LATENCY_KINDS = ("delay", "throttle")
# Longest spec accepted, in every form (the x-fault header is cut off here
# before any parsing, so a huge header costs nothing).
MAX_SPEC_CHARS = 8192


def kind_of(text: str | None) -> str:
    """A spec text's kind without parsing it (a report record's ``fault``): its first word
    (``status code=503`` -> ``status``); a stack's kinds joined by ``+`` (``delay ms=200 +
    status code=503`` -> ``delay+status``, as ``StackSpec.kind``)."""
    return STACK_SEP.join(w[0] for part in (text or "").split(f" {STACK_SEP} ") if (w := part.split(None, 1)))


def did_you_mean(word: Any, choices) -> str:
    """`` (did you mean 'probability'?)`` for a near miss, else ``""``."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


@dataclass(frozen=True)
class FaultSpec:
    """A parsed, validated fault: its kind, typed parameters and canonical text."""

    kind: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        parts = [self.kind]
        for k, v in self.params.items():
            s = str(v).lower() if isinstance(v, bool) else str(v)
            parts.append(f"{k}={shlex.quote(s)}" if s else f"{k}=''")
        return " ".join(parts)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class StackSpec:
    """Several faults on one request, in the order they act (latency first)."""

    parts: tuple[FaultSpec, ...]
    params: dict[str, Any] = field(default_factory=dict)  # a stack's own: none

    @property
    def kind(self) -> str:
        return "+".join(p.kind for p in self.parts)

    @property
    def text(self) -> str:
        return f" {STACK_SEP} ".join(p.text for p in self.parts)

    def __str__(self) -> str:
        return self.text


def stack(parts: list[FaultSpec]) -> "FaultSpec | StackSpec":
    """Faults that combine on one request, put in phase order (latency kinds, then
    the one that decides the answer); a SpecError names two that cannot combine."""
    parts = [q for p in parts for q in getattr(p, "parts", (p,))]  # a stack inside a list: flattened
    if len(parts) == 1:
        return parts[0]
    if not parts:
        raise SpecError("an empty fault list (expected e.g. [delay ms=200, status code=503])")
    known = kinds.all_kinds()
    deciders = []
    for p in parts:
        cls = known[p.kind]
        level = cls.level_for(p.params)
        if level != "flow":
            what = {"request_head": "while the request arrives (before any delay could come first)",
                    "connection": "on the connection, before any request", "dns": "on the DNS query"}[level]
            raise SpecError(f"{p.text!r} acts {what}: it cannot be stacked with other faults")
        if p.kind.startswith("ws_"):
            raise SpecError(f"{p.text!r} acts on WebSocket messages: one per rule, not in a stack")
        if p.kind not in LATENCY_KINDS:
            deciders.append(p)
    if len(deciders) > 1:
        raise SpecError(f"{deciders[0].text!r} and {deciders[1].text!r} cannot combine: each decides what the "
                        f"client gets, so one would never act (stack {', '.join(LATENCY_KINDS)} with at most "
                        "one other fault)")
    ordered = [p for p in parts if p.kind in LATENCY_KINDS] + deciders
    return StackSpec(tuple(ordered))


def split_words(text: str) -> tuple[str, dict[str, str]]:
    """``'reset when=mid_body'`` -> ``('reset', {'when': 'mid_body'})``, no typing yet."""
    words = _words(text)
    if not words:
        raise SpecError("empty fault spec (expected 'KIND key=value ...')")
    kind, pairs = words[0], {}
    if "=" in kind:
        raise SpecError(f"fault spec must start with a fault kind, got {kind!r}")
    for w in words[1:]:
        key, sep, value = w.partition("=")
        if not sep or not key:
            raise SpecError(f"expected key=value, got {w!r} in {text!r}")
        if key in pairs:
            raise SpecError(f"key {key!r} given twice in {text!r}")
        pairs[key] = value
    return kind.lower(), pairs


def _words(text: str) -> list[str]:
    if len(text) > MAX_SPEC_CHARS:
        raise SpecError(f"fault spec is {len(text)} characters long (the limit is {MAX_SPEC_CHARS})")
    try:
        return shlex.split(text)
    except ValueError as e:
        raise SpecError(f"cannot split {text!r}: {e}") from None


def parse(text: str, *, allow_selection: bool = False) -> tuple[FaultSpec, dict[str, str]]:
    """Parse and validate a spec string.

    Returns the spec and, when ``allow_selection``, the selection keys found
    inline (``probability=0.1 first=3``) as raw strings for the plan to type.
    """
    words = _words(text)
    if STACK_SEP in words:  # ``delay ms=200 + status code=503``: a stack
        groups, cur = [], []
        for w in words + [STACK_SEP]:
            if w == STACK_SEP:
                if not cur:
                    raise SpecError(f"{text!r}: '{STACK_SEP}' joins two faults (nothing on one side)")
                groups.append(shlex.join(cur))
                cur = []
            else:
                cur.append(w)
        parts, selection = [], {}
        for g in groups:
            spec, sel = parse(g, allow_selection=allow_selection)
            twice = sel.keys() & selection.keys()
            if twice:
                raise SpecError(f"{sorted(twice)[0]!r} given twice in {text!r}")
            parts.append(spec)
            selection.update(sel)
        return stack(parts), selection
    kind, pairs = split_words(text)
    selection = {}
    if allow_selection:
        for k in SELECTION_KEYS:
            if k in pairs:
                selection[k] = pairs.pop(k)
    return build(kind, pairs), selection


def build(kind: str, raw: dict[str, Any]) -> FaultSpec:
    """Validate ``raw`` parameters for ``kind`` (strings or YAML scalars)."""
    known_kinds = kinds.all_kinds()
    if kind not in known_kinds:
        raise SpecError(f"unknown fault kind {kind!r}{did_you_mean(kind, known_kinds)} "
                        f"(known: {', '.join(known_kinds)})")
    cls = known_kinds[kind]
    for key, value in raw.items():
        _check_key(cls, kind, key)
        if value is not None and not isinstance(value, (str, int, float)):  # header.NAME=[...] too
            raise SpecError(f"{key}={value!r}: expected a single value, got a "
                            f"{'list' if isinstance(value, list) else 'mapping' if isinstance(value, dict) else type(value).__name__}")
    spec = FaultSpec(kind, cls.validate(raw))
    if len(spec.text) > MAX_SPEC_CHARS:
        raise SpecError(f"fault spec is {len(spec.text)} characters long (the limit is {MAX_SPEC_CHARS})")
    return spec


def _check_key(cls, kind: str, key: Any) -> None:
    """An unknown key is named with the nearest valid one (fault keys and selection keys)."""
    if not isinstance(key, str):
        raise SpecError(f"key {key!r} for fault {kind!r}: keys are names like {next(iter(cls.params), 'ms')!r}")
    if key in cls.params or any(key.startswith(p + ".") and len(key) > len(p) + 1 for p in cls.prefixed):
        return
    if key in SELECTION_KEYS:
        raise SpecError(f"{key!r} chooses flows, it is not a key of fault {kind!r}: in a YAML plan it is "
                        "a rule field (next to 'fault'); the x-fault header takes no selection keys")
    known = list(cls.params) + [f"{p}.NAME" for p in cls.prefixed]
    hint = did_you_mean(key, [*cls.params, *SELECTION_KEYS])
    raise SpecError(f"unknown key {key!r} for fault {kind!r}{hint} (known: {', '.join(known) or 'none'})")
