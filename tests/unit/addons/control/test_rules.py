"""Runtime rules from text (faults/addons/control/rules.py): validated like the plan,
named by their runtime index, seeded by the plan's own seed first."""

import pytest

from faults.addons.control.rules import build_plan, build_rules, rules_of
from faults.spec import SpecError


def test_a_bad_rule_is_named_by_its_runtime_index():
    with pytest.raises(SpecError, match=r"runtime rule 1 \('\|~u /b\|status code=1000'\)"):
        build_rules(["|~u /a|status code=503", "|~u /b|status code=1000"])
    (rule,) = build_rules(["|~u /a|status code=503"])
    assert rule.where == "runtime rule 0 ('|~u /a|status code=503')"


def test_the_plans_own_seed_wins_over_the_given_one():
    text = "rules:\n  - match: '~u /a'\n    fault: status code=503\n    probability: 0.5\n"
    seeded_with = lambda seed: [r.rng.random() for r in build_plan(text, "t", seed)]  # noqa: E731
    assert seeded_with(7) == seeded_with(7) != seeded_with(8)
    own = "seed: 1\n" + text
    assert [r.rng.random() for r in build_plan(own, "t", 7)] == [r.rng.random() for r in build_plan(own, "t", 8)]


def test_a_change_messages_rules():
    assert rules_of({"op": "clear", "specs": ["status code=503"]}, None) == []
    (rule,) = rules_of({"op": "set", "specs": ["status code=503"]}, None)
    assert rule.spec.text == "status code=503"
    (rule,) = rules_of({"op": "add", "yaml": "rules:\n  - fault: status code=502\n"}, None)
    assert rule.spec.text == "status code=502"
