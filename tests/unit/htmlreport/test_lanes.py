"""faults.htmlreport.lanes: each rule's window and ramp, from a plan file (the plan's own
loader) and from the records."""

import pytest

from faults.errors import SpecError
from faults.htmlreport import lanes

PLAN = """rules:
  - name: api
    fault: status code=503
    window: 10s..40s
    probability: 0.2..0.5
  - match: "~u /x"
    fault: delay ms=100
    window: ..5s
    probability: {0s: 1, 5s: 0}
  - fault: hang
    requests: 100..400
    probability: 0.1..0.5
  - name: flat
    fault: reset
    window: 45s..
    probability: 0.3
"""


def test_plan_lanes_read_the_plans_own_gates(tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN)
    api, x, hang, flat = lanes.from_plan(plan)
    assert (api.rule, api.windows, api.ramp, api.probability) == ("api", [(10.0, 40.0)], [(10.0, 0.2), (40.0, 0.5)], None)
    assert x.rule.endswith(": rule 2 (line 6)") and x.number == 2 and api.number is None
    assert x.windows == [(0.0, 5.0)] and x.ramp == [(0.0, 1.0), (5.0, 0.0)]
    assert hang.windows == [] and hang.ramp == [] and hang.requests == "100..400 (probability 0.1..0.5 over it)"
    assert flat.windows == [(45.0, None)] and flat.probability == 0.3 and flat.fault == "reset"


def test_records_find_their_plan_rule_by_name_or_number(tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN)
    got = lanes.from_plan(plan)
    recs = [{"rule": "elsewhere/plan.yaml: rule 2 (line 6)"},  # the proxy was given another path
            {"rule": "api"}, {"rule": "x-fault header", "fault": "reset"},
            {"rule": "described", "window": [1, 2], "ramp": {"axis": "t", "keyframes": [[1, 0.1], [2, 0.4]]}},
            {"rule": "bad window", "window": "soon"}, {"rule": None}]
    merged = lanes.merge(got, recs)
    assert [ln.rule for ln in merged] == ["api", "elsewhere/plan.yaml: rule 2 (line 6)", got[2].rule, "flat",
                                          "x-fault header", "described", "bad window"]
    assert merged[1].windows == [(0.0, 5.0)]  # the unnamed plan rule took the records' label
    assert merged[4].fault == "reset"
    assert merged[5].windows == [(1.0, 2.0)] and merged[5].ramp == [(1.0, 0.1), (2.0, 0.4)]
    assert merged[6].windows == []  # a record's window that does not read: a plain lane


def test_a_plan_the_proxy_would_refuse_is_its_error(tmp_path):
    plan = tmp_path / "p.yaml"
    plan.write_text("rules:\n  - fault: hang\n    window: soon\n")
    with pytest.raises(SpecError, match=r"p.yaml: rule 1.*window"):
        lanes.from_plan(plan)
    with pytest.raises(SpecError, match="cannot read"):
        lanes.from_plan(tmp_path / "missing.yaml")
