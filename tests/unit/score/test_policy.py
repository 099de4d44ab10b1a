import pytest

from faults.errors import SpecError
from faults.score import policy


def row(**kw):
    base = {"attempts": 1, "intervals_ms": [], "resent_methods": [], "retry_after_honoured": None,
            "gave_up_ms": None, "hung": False}
    return {**base, **kw}


def test_each_key_gives_its_reason():
    rules = {"max_attempts": 2, "min_backoff_ms": 100, "honour_retry_after": True, "retry_methods": ["GET"],
             "give_up_within_ms": 1000, "must_not_hang": True}
    assert policy.judge(row(), rules, 10) == ("pass", [])
    verdict, reasons = policy.judge(row(attempts=3, intervals_ms=[40, 200], resent_methods=["GET", "POST"],
                                        retry_after_honoured=False, gave_up_ms=1500), rules, 10)
    assert verdict == "fail" and reasons == [
        "3 attempts > max_attempts 2", "re-sent after 40 ms < min_backoff_ms 100",
        "re-sent before the Retry-After delay", "re-sent POST", "gave up after 1500 ms > give_up_within_ms 1000"]
    assert policy.judge(row(hung=True), rules, 10) == ("fail", ["hung: killed after 10 s"])
    assert policy.judge(row(hung=True), {"give_up_within_ms": 5}, 2.5) == (
        "fail", ["did not give up within 5 ms (hung)"])


def test_overrides_by_kind_then_by_spec():
    p = policy.parse({"max_attempts": 2, "overrides": {"status": {"max_attempts": 3},
                                                       "status code=429": {"max_attempts": 5}}}, "p.yaml")
    assert p.for_fault("reset", "reset") == {"max_attempts": 2}
    assert p.for_fault("status code=503", "status") == {"max_attempts": 3}
    assert p.for_fault("status code=429", "status") == {"max_attempts": 5}


@pytest.mark.parametrize("doc, msg", [
    ({"max_attempt": 2}, "p.yaml: unknown key 'max_attempt' (did you mean 'max_attempts'?)"),
    ({"max_attempts": 0}, "p.yaml: max_attempts: expected a whole number >= 1, got 0"),
    ({"must_not_hang": "yes"}, "p.yaml: must_not_hang: expected true or false, got 'yes'"),
    ({"retry_methods": "GET"}, "p.yaml: retry_methods: expected a list of HTTP methods, got 'GET'"),
    ({"overrides": {"hang": {"give_up_within_ms": -1}}},
     "p.yaml: overrides['hang']: give_up_within_ms: expected a whole number of ms >= 0, got -1"),
    ([1], "p.yaml: a policy is a YAML mapping"),
])
def test_bad_policies_are_one_line_errors(doc, msg):
    with pytest.raises(SpecError) as e:
        policy.parse(doc, "p.yaml")
    assert str(e.value).startswith(msg) and "\n" not in str(e.value)


def test_load_from_yaml(tmp_path):
    f = tmp_path / "policy.yaml"
    f.write_text("max_attempts: 3\nretry_methods: [get, head]\noverrides:\n  hang: {must_not_hang: false}\n")
    p = policy.load(f)
    assert p.rules == {"max_attempts": 3, "retry_methods": ["GET", "HEAD"]}
    assert p.for_fault("hang", "hang")["must_not_hang"] is False
    f.write_text("max_attempts: [\n")
    with pytest.raises(SpecError, match="invalid YAML"):
        policy.load(f)
    with pytest.raises(SpecError, match="cannot read the policy"):
        policy.load(tmp_path / "missing.yaml")
