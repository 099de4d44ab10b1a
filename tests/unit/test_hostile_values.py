"""Every plan, option and spec value is validated to the one-line error: types exact,
numbers finite and in range, YAML aliases refused, sizes capped, typos get a
did-you-mean, rules that could never match are refused."""

import asyncio

import pytest
from mitmproxy import exceptions
from mitmproxy.test import taddons

from faults import plan, spec
from faults.addons.injector import FaultInjector
from faults.spec import SpecError


def yaml_error(text):
    with pytest.raises(SpecError) as e:
        plan.load_yaml(text, "p.yaml")
    return str(e.value)


@pytest.mark.parametrize("rule, needle", [
    ("fault: {kind: status, code: 503.9}", "rule 1 (line 2): code=503.9: expected a whole number"),
    ("fault: {kind: status, code: 503.0}", "code=503.0: expected a whole number"),
    ("fault: {kind: status, code: 503, body: [1, 2]}", "body=[1, 2]: expected a single value, got a list"),
    ("fault: {kind: status, code: 503, body: {a: 1}}", "got a mapping"),
    ("fault: {kind: status, code: 503, header.X-A: [1]}", "header.X-A=[1]: expected a single value"),
    ("fault: {kind: delay, ms: .inf}", "ms=inf: expected a whole number"),
    ("fault: {kind: delay, ms: .nan}", "ms=nan: expected a whole number"),
    ("fault: {kind: delay, ms: true}", "ms=True: expected a whole number"),
    ("fault: {kind: truncate, keep: 99999999999999999999}", "must be <="),
    ("fault: {kind: delay, 1: 2}", "key 1 for fault 'delay'"),
    ("fault: {kind: [status]}", "kind=['status']: expected a fault kind name"),
    ("fault: hang\n    probability: .nan", "probability=nan: expected a finite number"),
    ("fault: hang\n    probability: true", "probability=True: expected a number"),
    ("fault: hang\n    probability: [0.5]", "expected a number from 0 to 1"),
    ("fault: hang\n    first: true", "first=True: expected a whole number >= 1"),
    ("fault: hang\n    every: 2.5", "every=2.5: expected a whole number >= 1"),
    ("fault: hang\n    name: {a: 1}", "name={'a': 1}: expected a text"),
])
def test_wrong_types_and_non_finite_numbers_are_refused_not_coerced(rule, needle):
    assert needle in yaml_error(f"rules:\n  - {rule}\n")


def test_seed_must_be_a_number_or_text():
    assert "seed=[1]: expected a whole number or a text" in yaml_error("seed: [1]\nrules: []\n")
    assert plan.load_yaml("seed: abc\nrules: []\n", "p").seed == "abc"


@pytest.mark.parametrize("text, needle", [
    ("delay ms=inf", "ms='inf': expected a whole number"),
    ("delay ms=nan", "expected a whole number"),
    ("status code=503.0", "expected a whole number"),
    ("hang ms=1e3", "expected a whole number"),
])
def test_spec_strings_are_typed_exactly(text, needle):
    with pytest.raises(SpecError, match=needle):
        spec.parse(text)


def test_yaml_alias_bomb_is_refused_before_it_expands():
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    bomb = "\n".join(lines) + "\nrules:\n  - fault: {kind: status, code: 503, body: *a9}\n"
    msg = yaml_error(bomb)
    assert "p.yaml: line 2: YAML alias *a0 refused" in msg  # at the first alias: nothing was expanded
    # a self-referencing alias too
    assert "YAML alias *r refused" in yaml_error("rules: &r\n  - *r\n")
    assert "YAML alias *d refused" in yaml_error("x: &d {fault: hang}\nrules:\n  - <<: *d\n")


def test_size_limits_are_stated(tmp_path, monkeypatch):
    big = tmp_path / "big.yaml"
    big.write_text("rules: []\n" + "#" * plan.MAX_PLAN_BYTES)
    with pytest.raises(SpecError, match="larger than 4 MiB"):
        plan.load_file(big)
    monkeypatch.setattr(plan.limits, "MAX_RULES", 3)
    assert "4 rules (the limit is 3)" in yaml_error("rules:\n" + "  - fault: hang\n" * 4)
    long_spec = "status code=503 body=" + "x" * spec.MAX_SPEC_CHARS
    with pytest.raises(SpecError, match="characters long .the limit is 8192"):
        spec.parse(long_spec)
    assert "the limit is 8192" in yaml_error(f"rules:\n  - fault: {{kind: status, code: 503, body: {'x' * 9000}}}\n")
    assert "flow filter is 5000 characters long (the limit is 4096)" in yaml_error(
        f"rules:\n  - fault: hang\n    match: '~u {'a' * 4997}'\n")


def test_option_entry_count_is_capped(monkeypatch):
    monkeypatch.setattr(plan.limits, "MAX_RULES", 2)
    inj = FaultInjector()

    async def scenario():
        with taddons.context(inj) as tctx:
            inj.running()
            with pytest.raises(exceptions.OptionsError, match="3 entries .the limit is 2"):
                tctx.configure(inj, faults=["hang", "hang", "hang"])
            await inj.done()

    asyncio.run(scenario())


@pytest.mark.parametrize("text, needle", [
    ("rules:\n  - fault: hang\n    probabilty: 0.1\n", "unknown rule key(s) 'probabilty' (did you mean 'probability'?)"),
    ("rules:\n  - fault: hang\n    mach: '~u /a'\n", "(did you mean 'match'?)"),
    ("rules:\n  - fault: {kind: delay, mss: 3}\n", "unknown key 'mss' for fault 'delay' (did you mean 'ms'?)"),
    ("rules:\n  - fault: stauts code=503\n", "unknown fault kind 'stauts' (did you mean 'status'?)"),
    ("rulez: []\n", "unknown top-level key(s) 'rulez' (did you mean 'rules'?)"),
    ("rules:\n  - fault: status code=503 probability=0.1\n", "'probability' chooses flows"),
])
def test_typos_get_a_did_you_mean(text, needle):
    assert needle in yaml_error(text)


def test_option_typo_of_a_selection_key_gets_a_did_you_mean():
    with pytest.raises(SpecError, match=r"unknown key 'probabilty' for fault 'status' \(did you mean 'probability'\?\)"):
        plan.rule_from_option("|~u /a|status code=503 probabilty=0.1", 0)
    with pytest.raises(SpecError, match=r"did you mean 'every'\?"):
        plan.rule_from_option("status code=503 evry=2", 0)


@pytest.mark.parametrize("match, code, why", [
    ("~e", "~e", "a flow with an error has no response"), ("!~e", "~e", "a flow with an error"),
    ("~replays", "~replays", "no upstream sent"),
])
def test_filters_that_can_never_match_are_refused_with_the_reason(match, code, why):
    msg = yaml_error(f"rules:\n  - fault: hang\n    match: '{match}'\n")
    assert f"rule 1 (line 2): flow filter {match!r} uses {code}: it " in msg and why in msg
    with pytest.raises(SpecError, match=why):
        plan.rule_from_option(f"#{match}#hang", 0)


@pytest.mark.parametrize("match", ["~s", "~c 503", "~u /a & ~hs x-y", "!~s", "~ts json", "~a",
                                   "~u /a | (~m GET & !~c 200)"])
def test_response_head_filters_make_a_response_rule(match):
    rule = plan.load_yaml(f"rules:\n  - fault: hang\n    match: '{match}'\n", "p").rules[0]
    assert rule.fault.level == "response" and rule.describe()["phase"] == "response"


@pytest.mark.parametrize("match", ["~bs oops", "~c 500 & ~bs oops", "~u /a & !~bs ok"])
def test_body_filters_make_a_response_body_rule(match):
    rule = plan.load_yaml(f"rules:\n  - fault: reset\n    match: '{match}'\n", "p").rules[0]
    assert rule.fault.level == "response_body" and rule.describe()["phase"] == "response_body"


@pytest.mark.parametrize("match", ["~hq x-a", "~bq abc", "~tq json", "~q", "~h x-a", "~b abc", "~t json", "~u /a & ~m POST"])
def test_request_side_filters_still_work(match):
    assert plan.load_yaml(f"rules:\n  - fault: hang\n    match: '{match}'\n", "p").rules[0].match == match
