"""Rules from the ways in (faults/plan/build.py): the option entry's separator, the
fault list's limit, and the names ``faults.plan`` has always offered."""

import pytest

from faults import plan
from faults.errors import SpecError


@pytest.mark.parametrize("entry, match, kind", [
    ("status code=503", None, "status"),
    ("|~u /v1/|status code=503", "~u /v1/", "status"),
    ("!~d a.test!reset", "~d a.test", "reset"),
    ("|  |hang", None, "hang"),
])
def test_option_entry_filter_and_spec(entry, match, kind):
    r = plan.rule_from_option(entry, 0)
    assert (r.match, r.spec.kind) == (match, kind)


@pytest.mark.parametrize("entry, needle", [
    ("   ", "empty entry"),
    ("|~u /v1/ status code=503", "separator '|' appears once"),
])
def test_option_entry_errors_name_the_entry(entry, needle):
    with pytest.raises(SpecError, match=needle) as e:
        plan.rule_from_option(entry, 3)
    assert "faults option entry 3" in str(e.value)


def test_a_fault_list_is_capped_and_the_cap_is_named():
    ok = plan.rule_from_mapping({"fault": ["delay ms=1"] * plan.MAX_STACK}, "here")
    assert len(ok.spec.parts) == plan.MAX_STACK
    with pytest.raises(SpecError, match=f"a fault list of {plan.MAX_STACK + 1} faults .the limit is 16."):
        plan.rule_from_mapping({"fault": ["delay ms=1"] * (plan.MAX_STACK + 1)}, "here")


def test_every_name_faults_plan_offered_before_the_split_is_there():
    before = {"Plan", "Rule", "load_file", "load_yaml", "parse_yaml", "rule_from_option", "rule_from_header",
              "rule_from_mapping", "short", "client_host", "host_key", "may_select_host", "generation",
              "url_literal", "domain_gate", "parse_filter", "response_filter", "ClientDomain", "UrlIndex",
              "MAX_RULES", "MAX_PLAN_BYTES", "MAX_MATCH_CHARS", "HOST_MEMO_MAX", "URL_INDEX_MIN", "GRAM",
              "RULE_KEYS", "GATES", "RESPONSE_FILTERS", "BODY_FILTERS", "NEVER_FILTERS", "SpecError", "FaultSpec"}
    assert before <= set(plan.__all__)
    assert all(hasattr(plan, name) for name in plan.__all__)
