"""Each rule's lane: when it may apply (its window) and how likely (its probability or ramp).

From a plan file (``faults report --html OUT --plan PLAN``), loaded by the plan's own
loader (``faults.plan.load_file``: the same keys, checks and messages as the proxy; the
time keys are ``faults.gates``'): ``window: 30s..90s``, ``probability: 0.2..0.5`` or
keyframes, ``requests: 100..400`` (a count window: named, it has no place on a time axis).

And from the records: a record that carries ``window`` (``30s..90s`` or ``[30, 90]``, as
``Timing.describe`` says it) and ``ramp`` (``{"axis": "t", "keyframes": [[0, 0.1], ...]}``)
describes its own rule's lane when the plan has no such rule.

A record's rule label finds its plan rule by name, or, for an unnamed rule (labelled
``plan.yaml: rule 2 (line 7)`` by the proxy, with the path it was given), by its number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from faults import gates, plan as planmod
from faults.errors import SpecError

_RULE_NO = re.compile(r": rule (\d+)(?: \(line \d+\))?$")


@dataclass
class Lane:
    rule: str  # the label the records carry (or the plan's label for it)
    windows: list[tuple[float, float | None]] = field(default_factory=list)  # (from, to); None: to the end
    ramp: list[tuple[float, float]] = field(default_factory=list)  # (t, probability) keyframes
    probability: float | None = None  # constant, when not ramped
    requests: str | None = None  # a request-count window, as text
    fault: str | None = None
    number: int | None = None  # an unnamed plan rule's number (records name it by it)


def of_rule(rule: planmod.Rule, number: int) -> Lane:
    """A plan rule's lane, from its parsed gates."""
    timing = rule.timing
    lane = Lane(rule=rule.label, probability=rule.probability, fault=rule.spec.text,
                number=None if rule.name else number)
    if timing is not None:
        if timing.window is not None:
            lane.windows = [timing.window]
        if timing.ramp is not None and timing.ramp.axis == "t":
            lane.ramp = [tuple(f) for f in timing.ramp.frames]
        if timing.requests is not None:
            lo, hi = timing.requests
            lane.requests = f"{lo}..{'' if hi is None else hi}"
            if timing.ramp is not None and timing.ramp.axis == "n":
                frames = timing.ramp.frames
                lane.requests += f" (probability {frames[0][1]:g}..{frames[-1][1]:g} over it)"
    return lane


def from_plan(path: str | Path) -> list[Lane]:
    """The lanes of every rule in a plan file, in plan order; a SpecError (the proxy's own
    message, naming the file, rule and line) when it is not a plan the proxy would load."""
    return [of_rule(rule, i) for i, rule in enumerate(planmod.load_file(path).rules, 1)]


def of_record(label: str, rec: dict) -> Lane:
    """A lane a record describes itself (its ``window`` and ``ramp``), or just its rule."""
    fault = rec.get("fault") if isinstance(rec.get("fault"), str) else None
    lane = Lane(rule=label, fault=fault)
    w = rec.get("window")
    try:
        if isinstance(w, str):
            lane.windows = [gates.window(w)]
        elif isinstance(w, (list, tuple)) and len(w) == 2:
            lane.windows = [(float(w[0] or 0), None if w[1] is None else float(w[1]))]
        ramp = rec.get("ramp")
        if isinstance(ramp, dict) and ramp.get("axis", "t") == "t":
            lane.ramp = [(float(x), float(p)) for x, p in ramp.get("keyframes") or []]
    except (SpecError, TypeError, ValueError):
        pass  # a record's own description is a bonus: one that does not read leaves the lane plain
    return lane


def merge(plan: list[Lane], records: list[dict]) -> list[Lane]:
    """A lane per rule the plan has or the records name: the plan's in its order, then
    the others as first seen. An unnamed plan rule takes the records' label for it."""
    order = list(plan)
    index = {ln.rule: ln for ln in plan}
    numbered = {ln.number: ln for ln in plan if ln.number is not None}
    for rec in records:
        label = rec.get("rule")
        if not label or str(label) in index:
            continue
        label = str(label)
        m = _RULE_NO.search(label)
        known = numbered.pop(int(m.group(1)), None) if m else None
        if known is not None:  # the same rule, labelled with the path the proxy was given
            del index[known.rule]
            known.rule = label
            index[label] = known
            continue
        lane = index[label] = of_record(label, rec)
        order.append(lane)
    return order
