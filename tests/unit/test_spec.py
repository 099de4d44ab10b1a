import pytest

from faults import plan
from faults import spec
from faults.spec import SpecError


def test_spec_roundtrip_and_typing():
    s, sel = spec.parse("status code=503 retry_after=2 body='try later' probability=0.5", allow_selection=True)
    assert s.kind == "status" and s.params == {"code": 503, "retry_after": "2", "body": "try later"}
    assert sel == {"probability": "0.5"}
    assert spec.parse(s.text)[0] == s


@pytest.mark.parametrize("text, reason", [
    ("", "empty fault spec"),
    ("nope", "unknown fault kind 'nope'"),
    ("status", "needs code="),
    ("status code=700", "must be <= 599"),
    ("status code=abc", "expected a whole number"),
    ("reset when=later", "expected one of before_response, after_headers, mid_body"),
    ("delay ms=1 ms=2", "given twice"),
    ("delay ms", "expected key=value"),
    ("delay ms=1 colour=red", "unknown key 'colour' for fault 'delay'"),
    ("status code=500 body='open", "cannot split"),
])
def test_spec_errors_say_why(text, reason):
    with pytest.raises(SpecError, match=reason.replace("(", r"\(")):
        spec.parse(text)


def test_yaml_errors_name_file_rule_and_line():
    text = "seed: 1\nrules:\n  - match: '~u /a'\n    fault: delay ms=5\n  - match: '~u /b'\n    fault: reset when=never\n"
    with pytest.raises(SpecError) as e:
        plan.load_yaml(text, "plan.yaml")
    assert str(e.value).startswith("plan.yaml: rule 2 (line 5): when='never'")


@pytest.mark.parametrize("text, reason", [
    ("rules:\n  - match: '~nope'\n    fault: hang\n", "invalid flow filter '~nope'"),
    ("rules:\n  - fault: hang\n    probablity: 0.1\n", "unknown rule key(s) 'probablity'"),
    ("rules:\n  - fault: hang\n    probability: 2\n", "probability=2: must be from 0 to 1"),
    ("rules:\n  - fault: hang\n    first: 0\n", "first=0: must be >= 1"),
    ("rules:\n  - fault: {ms: 3}\n", "fault mapping needs a 'kind' key"),
    ("rulez: []\n", "unknown top-level key(s) 'rulez'"),
    ("rules: [\n", "invalid YAML"),
])
def test_yaml_rule_errors(text, reason):
    with pytest.raises(SpecError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        plan.load_yaml(text, "p.yaml")


def test_yaml_mapping_and_string_forms_are_the_same_fault():
    p = plan.load_yaml("rules:\n - fault: {kind: delay, ms: 200, jitter_ms: 50}\n - fault: delay ms=200 jitter_ms=50\n", "p")
    assert p.rules[0].spec == p.rules[1].spec


def test_option_rule_forms():
    r = plan.rule_from_option("|~u /a/b|status code=503 first=2 name=x", 0)
    assert (r.match, r.spec.text, r.first, r.name) == ("~u /a/b", "status code=503", 2, "x")
    assert plan.rule_from_option("truncate", 1).match is None
    with pytest.raises(SpecError, match="faults option entry 2"):
        plan.rule_from_option("/~u /a", 2)


class FakeFlow:
    pass


def _always(rule):
    rule.filter = lambda f: True
    return rule


def test_first_every_probability_are_deterministic_with_seed():
    def draws(seed, **sel):
        r = _always(plan.Rule(spec=spec.parse("hang")[0], seed=seed, **sel))
        return [r.select(FakeFlow()) for _ in range(40)]

    assert draws(1, first=3) == [True] * 3 + [False] * 37
    assert draws(1, every=4) == [i % 4 == 3 for i in range(40)]
    a, b = draws(5, probability=0.3), draws(5, probability=0.3)
    assert a == b and 4 <= sum(a) <= 20
    assert draws(6, probability=0.3) != a  # the seed matters


def test_rule_draws_do_not_depend_on_other_rules():
    y1 = "seed: 3\nrules:\n - {name: a, fault: hang, probability: 0.5}\n"
    y2 = "seed: 3\nrules:\n - {name: z, match: '~m POST', fault: hang}\n - {name: a, fault: hang, probability: 0.5}\n"
    r1 = _always(plan.load_yaml(y1, "p").rules[0])
    r2 = _always(plan.load_yaml(y2, "p").rules[1])
    assert [r1.select(FakeFlow()) for _ in range(30)] == [r2.select(FakeFlow()) for _ in range(30)]


@pytest.mark.parametrize("text,kind", [("status code=503", "status"), ("hang", "hang"), ("", ""), (None, ""),
                                       ("delay ms=200 + status code=503", "delay+status")])
def test_the_kind_of_a_spec_text(text, kind):
    assert spec.kind_of(text) == kind
    if text:
        assert spec.parse(text)[0].kind == kind  # as the parsed spec says
