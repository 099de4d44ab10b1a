"""Runtime rules from text, and what the rules are.

Runtime rules validate exactly like the plan: option-style ``/filter/spec``
strings go through ``plan.rule_from_option``, YAML plans through
``plan.load_yaml``. They are seeded with the plan's own ``seed`` or else the
``fault_seed`` option, so with a seed the same requests get the same faults
however often the rules change.
"""

from __future__ import annotations

from collections.abc import Sequence

from faults import plan as planmod
from faults.plan import limits
from faults.spec import SpecError


def build_rules(specs: Sequence[str], seed=None) -> list[planmod.Rule]:
    """Option-style rule strings -> rules, validated like the ``faults`` option."""
    if len(specs) > limits.MAX_RULES:
        raise SpecError(f"{len(specs)} rules (the limit is {limits.MAX_RULES})", "runtime rules")
    rules = []
    for i, text in enumerate(specs):
        where = f"runtime rule {i} ({planmod.short(text.strip())!r})"
        try:
            rule = planmod.rule_from_option(text, i, seed)
        except SpecError as e:
            raise SpecError(e.reason, where) from None
        rule.where = where
        rules.append(rule)
    return rules


def build_plan(yaml_text: str, source: str, seed=None) -> list[planmod.Rule]:
    """A YAML plan -> rules; its own ``seed`` wins, else ``seed``."""
    return seeded(planmod.load_yaml(yaml_text, source), seed)


def seeded(plan: planmod.Plan, seed=None) -> list[planmod.Rule]:
    """The plan's rules, reseeded with ``seed`` when the plan has none of its own."""
    if plan.seed is None and seed is not None:
        for rule in plan.rules:
            rule.reseed(seed)
    return plan.rules


def rules_of(msg: dict, seed) -> list[planmod.Rule]:
    """A change message's rules (``faults.addons.control.changes``): none for a clear,
    else its YAML plan, plan file or option-style specs (a SpecError for bad ones)."""
    if msg["op"] == "clear":
        return []
    if "yaml" in msg:
        return build_plan(msg["yaml"], msg.get("source", "control request"), seed)
    if "load" in msg:  # load_file: missing, a directory, too big, not UTF-8 are all one-line errors
        return seeded(planmod.load_file(msg["load"]), seed)
    return build_rules(msg["specs"], seed)


def describe_rules(injector) -> list[dict]:
    out = []
    for source, plan in (("runtime", injector.runtime_plan), ("option", injector.option_plan),
                         ("file", injector.file_plan)):
        for rule in plan.rules:
            out.append({"source": source, "label": rule.label, **rule.describe()})
    return out


def stats(injector, classifier=None, status=None) -> dict:
    keys = ("source", "label", "fault", "matched", "applied", "active", "over_max_active")  # the last two: max_active
    out: dict = {"rules": [{k: r[k] for k in keys if k in r} for r in describe_rules(injector)]}
    if classifier is not None:
        out["codes"] = {str(k): v for k, v in sorted(classifier.codes.items(), key=lambda kv: str(kv[0]))}
    if status is not None:
        out["flows"], out["faulted"] = status.flows, status.faulted
    return out
