"""The one fault-spec grammar: ``KIND key=value ...``.

Shared by the YAML plan, the ``faults`` option and the ``x-fault`` header.
Values may be quoted shell-style (``status code=503 body="try later"``).
Parsing checks every key against the fault kind's declared parameters, so a
typo is reported at load time, with where it came from, never mid-traffic.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

from faults import kinds
from faults.errors import SpecError

__all__ = ["SELECTION_KEYS", "FaultSpec", "SpecError", "build", "parse", "split_words"]

# Keys that choose *which* flows a rule applies to rather than what the fault
# does; the option and header forms accept them inline, the YAML form as
# rule fields.
SELECTION_KEYS = ("name", "probability", "first", "every")


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


def split_words(text: str) -> tuple[str, dict[str, str]]:
    """``'reset when=mid_body'`` -> ``('reset', {'when': 'mid_body'})``, no typing yet."""
    try:
        words = shlex.split(text)
    except ValueError as e:
        raise SpecError(f"cannot split {text!r}: {e}") from None
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


def parse(text: str, *, allow_selection: bool = False) -> tuple[FaultSpec, dict[str, str]]:
    """Parse and validate a spec string.

    Returns the spec and, when ``allow_selection``, the selection keys found
    inline (``probability=0.1 first=3``) as raw strings for the plan to type.
    """
    kind, pairs = split_words(text)
    selection = {}
    if allow_selection:
        for k in SELECTION_KEYS:
            if k in pairs:
                selection[k] = pairs.pop(k)
    return build(kind, pairs), selection


def build(kind: str, raw: dict[str, Any]) -> FaultSpec:
    """Validate ``raw`` parameters for ``kind`` (strings or YAML scalars)."""
    cls = kinds.get(kind)
    return FaultSpec(kind, cls.validate(raw))
