"""Each rule's lane: when it may apply (its windows) and how likely (its ramp).

Read from a plan file (``faults report --html OUT --plan PLAN``) and from any
window a report record carries. The plan's time keys, as issue 24 writes them:

- ``window: 30s..90s`` (also ``30..90``, ``1m..``, ``..90s``, a list of such windows);
- ``probability: 0.2..0.5`` (ramped linearly over the window) or keyframes
  ``{0s: 0, 30s: 0.2, 90s: 0.5}`` (inline: ``0s:0,30s:0.2``); a number is a constant probability;
- ``requests: 100..400`` (a request-count window: shown as text, it has no place on a time axis).

A record's rule label is matched to the plan's rule by name, or by the rule
number in the label the plan file gives an unnamed rule (``plan.yaml: rule 2 (line 7)``).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from ruamel.yaml.error import YAMLError

from faults import plan as planmod
from faults.spec import SpecError

UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "": 1.0}
_DUR = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|)\s*$")
_RULE_NO = re.compile(r": rule (\d+)(?: \(line \d+\))?$")


@dataclass
class Lane:
    rule: str  # the label the records carry (or the plan's name for it)
    windows: list[tuple[float, float | None]] = field(default_factory=list)  # (from, to); None: to the end
    ramp: list[tuple[float, float]] = field(default_factory=list)  # (t, probability) keyframes
    probability: float | None = None  # constant, when not ramped
    requests: str | None = None  # a request-count window, as written
    fault: str | None = None
    match: str | None = None


def seconds(value, where: str) -> float:
    """``30``, ``30s``, ``1.5m``, ``250ms`` -> seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    m = _DUR.match(str(value))
    if not m:
        raise SpecError(f"{value!r}: expected a duration like 30s, 1.5m or 250ms", where)
    return float(m.group(1)) * UNITS[m.group(2)]


def windows(value, where: str) -> list[tuple[float, float | None]]:
    """A window (``30s..90s``, ``30s..``), a [from, to] pair or a list of windows."""
    if isinstance(value, (list, tuple)):
        if len(value) == 2 and not any(isinstance(v, str) and ".." in v for v in value):
            return [(seconds(value[0], where), seconds(value[1], where))]
        return [w for v in value for w in windows(v, where)]
    if isinstance(value, dict) and {"from", "to"} >= set(value):
        to = value.get("to")
        return [(seconds(value.get("from", 0), where), None if to is None else seconds(to, where))]
    text = str(value)
    if ".." not in text:
        raise SpecError(f"window {text!r}: expected FROM..TO (e.g. 30s..90s)", where)
    a, b = text.split("..", 1)
    return [(seconds(a or 0, where), seconds(b, where) if b.strip() else None)]


def ramp(value, window: tuple[float, float | None] | None, where: str) -> tuple[float | None, list]:
    """(constant probability, keyframes): ``0.2``, ``0.2..0.5`` over ``window``, or ``{0s: 0, 30s: 0.2}``."""
    if value is None:
        return None, []
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value), []
    if isinstance(value, str) and ":" in value:  # inline keyframes: 0s:0,30s:0.2
        value = dict(item.partition(":")[::2] for item in value.split(","))
    if isinstance(value, dict):
        return None, sorted((seconds(k.strip() if isinstance(k, str) else k, where), _p(v, where))
                            for k, v in value.items())
    text = str(value)
    if ".." in text:
        a, b = (_p(x, where) for x in text.split("..", 1))
        if window is None or window[1] is None:
            raise SpecError(f"probability {text!r}: a ramp needs a window with an end", where)
        return None, [(window[0], a), (window[1], b)]
    return _p(text, where), []


def _p(v, where: str) -> float:
    try:
        p = float(v)
    except (TypeError, ValueError):
        raise SpecError(f"probability {v!r}: expected a number from 0 to 1", where) from None
    if not 0 <= p <= 1:
        raise SpecError(f"probability {p}: must be from 0 to 1", where)
    return p


def lane_of(rule: str, raw: dict, where: str) -> Lane:
    """One rule's lane from its raw keys (a plan rule's mapping, or a record)."""
    ws = windows(raw["window"], where) if raw.get("window") is not None else []
    req = raw.get("requests")
    p = raw.get("probability")
    if isinstance(p, str) and ".." in p and not (ws and ws[0][1] is not None) and req is not None:
        # ramped over the requests window (the Nth match): it has no place on the time axis
        const, keys, req = None, [], f"{req} (probability {p} over it)"
    else:
        const, keys = ramp(p, ws[0] if ws else None, where)
    fault = raw.get("fault")
    return Lane(rule=rule, windows=ws, ramp=keys, probability=const,
                requests=None if req is None else str(req),
                fault=fault if isinstance(fault, str) else None,
                match=raw.get("match") if isinstance(raw.get("match"), str) else None)


def from_plan(path: str | Path) -> list[Lane]:
    """The lanes of every rule in a plan file, in plan order; SpecError names the
    file and rule. Rules are read as written (not validated as a live plan is)."""
    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError(f"cannot read the plan: {getattr(e, 'strerror', None) or e}", str(p)) from None
    try:
        doc = planmod._yaml().load(io.StringIO(text))  # the plan's own loader (it refuses YAML aliases)
    except SpecError as e:
        raise e.at(str(p)) from None
    except YAMLError as e:
        raise SpecError(f"invalid YAML: {getattr(e, 'problem', None) or e}", str(p)) from None
    rules = doc.get("rules") if isinstance(doc, dict) else doc
    if not isinstance(rules, list):
        raise SpecError("a plan is a mapping with 'rules' or a list of rules", str(p))
    out = []
    for i, raw in enumerate(rules, 1):
        if not isinstance(raw, dict):
            raise SpecError("a rule must be a mapping", f"{p}: rule {i}")
        out.append(lane_of(str(raw.get("name") or f"rule {i}"), raw, f"{p}: rule {i}"))
    return out


def merge(plan: list[Lane], records: list[dict], where: str = "report") -> list[Lane]:
    """A lane per rule the plan has or the records name: the plan's in its order,
    then the others as first seen. A record's rule finds its plan lane by name or,
    for an unnamed plan rule, by its number (the lane takes the records' label); a
    record that carries ``window`` (or ``probability``) describes its own lane."""
    order = list(plan)
    index = {ln.rule: ln for ln in plan}
    numbered = {str(i): ln for i, ln in enumerate(plan, 1)}
    for rec in records:
        label = rec.get("rule")
        if not label or str(label) in index:
            continue
        label = str(label)
        m = _RULE_NO.search(label)
        known = numbered.get(m.group(1)) if m else None
        if known is not None and known.rule == f"rule {m.group(1)}":
            index[label] = known
            known.rule = label
            continue
        fault = rec.get("fault") if isinstance(rec.get("fault"), str) else None
        lane = lane_of(label, rec, f"{where}: rule {label}") if rec.get("window") is not None \
            else Lane(rule=label, fault=fault)
        lane.fault = lane.fault or fault
        index[label] = lane
        order.append(lane)
    return order
