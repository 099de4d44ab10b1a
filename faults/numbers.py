"""The one number parser: every number a user writes goes through here.

Entry points: the plan file (YAML scalars), the ``faults`` option and the
runtime commands (``key=value`` text), the control endpoint (text, JSON and
YAML bodies, ``/expect`` query parameters), the Toxiproxy API (JSON bodies,
``listen``/``upstream`` ports, Content-Length) and ``--workers``.

The rules, stated once (docs/hostile-inputs.md):

- written with ASCII digits only: ``every=²`` or ``ms=٣`` is refused, although
  Python's ``int()`` and ``str.isdigit()`` accept them; no ``_`` separators,
  no ``inf``/``nan``, no hexadecimal;
- at most ``MAX_CHARS`` characters of text, checked before any conversion (a
  5,000-digit integer costs one length check, never Python's 4,300-digit
  ``ValueError``);
- a whole number is ``[+-]?[0-9]+``; a number may also have a fraction and an
  exponent (``0.5``, ``.5``, ``1e-3``) and must be finite;
- inside its stated bounds (``lo``/``hi``), and never beyond ``NUMBER_MAX``
  when no bound is stated;
- a bad value is one ``SpecError`` line: ``KEY=VALUE: expected ..., (the rule)``
  with VALUE shortened; the caller adds where it came from (rule, line, option).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from faults.errors import SpecError

MAX_CHARS = 32  # text of one number, sign, point and exponent included
NUMBER_MAX = 2**53  # numbers with no stated maximum: still bounded (and exact as floats)
_WHOLE = re.compile(r"[+-]?[0-9]+", re.ASCII)
_REAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
RULE = "ASCII digits 0-9"


def shown(value: Any, limit: int = 40) -> str:
    """``repr(value)`` for a message, cut to ``limit`` characters (a 5,000-digit
    value is named by its start and its length, not echoed whole)."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}... ({len(value)} characters)"
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _num(x) -> str:
    """A bound as a user writes it: 599, 0.5, 2147483647 (not 2.14748e+09)."""
    return str(int(x)) if float(x).is_integer() and abs(x) <= NUMBER_MAX else f"{x:g}"


def _bounds(lo, hi) -> str:
    if lo is not None and hi is not None:
        return f" from {_num(lo)} to {_num(hi)}"
    if lo is not None:
        return f" >= {_num(lo)}"
    if hi is not None:
        return f" <= {_num(hi)}"
    return ""


def _text(value: Any, key: str, what: str, pattern: re.Pattern, lo, hi) -> str:
    """The stripped text of a number written as a string, its form checked."""
    text = value.strip()
    if len(text) > MAX_CHARS:
        raise SpecError(f"{key}={shown(value)}: a number is at most {MAX_CHARS} characters")
    if not pattern.fullmatch(text):
        raise SpecError(f"{key}={shown(value)}: expected {what}{_bounds(lo, hi)} ({RULE})")
    return text


class OutOfRange(SpecError):
    """A well-formed number outside its key's bounds."""


def limits(lo: float | None, hi: float | None) -> tuple[float, float]:
    """The bounds a number is held to: those stated, else +-``NUMBER_MAX``."""
    return (-NUMBER_MAX if lo is None else lo), (NUMBER_MAX if hi is None else hi)


def _check_range(v, key: str, lo, hi, given):
    """``v`` within the bounds; a message shows the value as it was ``given``."""
    bottom, top = limits(lo, hi)
    if v < bottom:
        raise OutOfRange(f"{key}={given}: must be >= {_num(bottom)}")
    if v > top:
        raise OutOfRange(f"{key}={given}: must be <= {_num(top)}")
    return v


def whole(value: Any, key: str, lo: float | None = None, hi: float | None = None) -> int:
    """A whole number from text (``"3"``) or a YAML/JSON int; bools, floats
    (``503.0`` too), lists and anything else are refused, never coerced."""
    what = "a whole number"
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise SpecError(f"{key}={shown(value)}: expected {what}{_bounds(lo, hi)}")
    given = _text(value, key, what, _WHOLE, lo, hi) if isinstance(value, str) else value
    return _check_range(int(given), key, lo, hi, given)


def real(value: Any, key: str, lo: float | None = None, hi: float | None = None) -> float:
    """A finite number from text (``"0.5"``, ``"1e-3"``) or a YAML/JSON int/float."""
    what = "a number"
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise SpecError(f"{key}={shown(value)}: expected {what}{_bounds(lo, hi)}")
    given = _text(value, key, what, _REAL, lo, hi) if isinstance(value, str) else value
    v = float(given)  # an int too big for a float is refused by the length bound before here
    if not math.isfinite(v):
        raise SpecError(f"{key}={shown(given)}: expected a finite number")
    return _check_range(v, key, lo, hi, given)


def plain(text: str, key: str, lo: int = 0, hi: int | None = None) -> int:
    """A whole number written as bare digits: no sign, no spaces (a port, a
    Content-Length, ``--workers``)."""
    if not isinstance(text, str) or (text and not text.isdigit()) or text != text.strip() or text[:1] in "+-":
        raise SpecError(f"{key}={shown(text)}: expected a whole number{_bounds(lo, hi)} ({RULE})")
    return whole(text, key, lo, hi)


def is_whole_text(text: str) -> bool:
    """``text`` is a whole number by these rules (for values that may be a number
    or a word, e.g. goaway's ``last_stream=this|below|N``)."""
    return len(text) <= MAX_CHARS and _WHOLE.fullmatch(text.strip()) is not None


def header_length(value: str | None) -> int | None:
    """A Content-Length header's value, or None when absent or not bare ASCII
    digits within bounds (the peer's header: never an exception)."""
    try:
        return plain(value.strip(), "content-length") if value else None
    except SpecError:
        return None


# -- JSON and YAML numbers ---------------------------------------------------------------

class HugeNumber:
    """A JSON integer literal longer than ``MAX_CHARS``: kept as its text, so that
    decoding never trips Python's 4,300-digit limit, and refused by whoever
    expected a number (it is neither an int nor a str)."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text if len(self.text) <= 40 else f"{self.text[:40]}... ({len(self.text)} digits)"

    __str__ = __repr__


def _json_int(text: str):
    return HugeNumber(text) if len(text) > MAX_CHARS else int(text)


def json_decoder() -> json.JSONDecoder:
    """A JSONDecoder whose integers obey the length bound (``HugeNumber`` past it)."""
    return json.JSONDecoder(parse_int=_json_int)


def json_loads(text: str):
    return json_decoder().decode(text)


def yaml_int_guard(constructor_cls):
    """A ruamel constructor class under which a YAML int or float scalar that is not
    plain ASCII decimal within ``MAX_CHARS`` (``0x10``, ``1_000``, ``0b1``, 5,000
    digits) stays its text: the key that expected a number then refuses it with the
    usual one line (key, rule, line), and a text field (``body: 0x10``) keeps what was
    written. Never ruamel's ValueError from deep inside ``int()``."""

    class Bounded(constructor_cls):
        def construct_yaml_int(self, node):
            text = str(node.value)
            if len(text) > MAX_CHARS or not _WHOLE.fullmatch(text):
                return text
            return super().construct_yaml_int(node)

        def construct_yaml_float(self, node):
            text = str(node.value)
            if len(text) > MAX_CHARS or not (_REAL.fullmatch(text) or text.lower().lstrip("+-") in (".inf", ".nan")):
                return text
            return super().construct_yaml_float(node)

    Bounded.add_constructor("tag:yaml.org,2002:int", Bounded.construct_yaml_int)
    Bounded.add_constructor("tag:yaml.org,2002:float", Bounded.construct_yaml_float)
    return Bounded
