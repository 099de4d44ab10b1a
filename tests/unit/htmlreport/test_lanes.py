"""faults.htmlreport.lanes: windows and ramps from a plan file or the records."""

import pytest

from faults.htmlreport import lanes
from faults.spec import SpecError


@pytest.mark.parametrize("value,want", [("30s..90s", [(30.0, 90.0)]), ("30..90", [(30.0, 90.0)]),
                                        ("1m..", [(60.0, None)]), ("250ms..1.5s", [(0.25, 1.5)]),
                                        ([10, 20], [(10.0, 20.0)]), (["0s..5s", "10s..15s"], [(0.0, 5.0), (10.0, 15.0)]),
                                        ({"from": "5s", "to": "1m"}, [(5.0, 60.0)])])
def test_windows(value, want):
    assert lanes.windows(value, "w") == want


@pytest.mark.parametrize("value", ["30s", "a..b", "10x..20s"])
def test_bad_windows_name_where(value):
    with pytest.raises(SpecError, match="plan.yaml: rule 1"):
        lanes.windows(value, "plan.yaml: rule 1")


def test_ramps():
    assert lanes.ramp(0.2, None, "w") == (0.2, [])
    assert lanes.ramp("0.2..0.5", (30.0, 90.0), "w") == (None, [(30.0, 0.2), (90.0, 0.5)])
    assert lanes.ramp({"0s": 0, "30s": 0.2, "90s": 0.5}, None, "w") == (None, [(0.0, 0.0), (30.0, 0.2), (90.0, 0.5)])
    with pytest.raises(SpecError, match="needs a window"):
        lanes.ramp("0.2..0.5", None, "w")
    with pytest.raises(SpecError, match="from 0 to 1"):
        lanes.ramp("0.2..5", (0.0, 1.0), "w")


def test_plan_lanes_and_the_records_labels(tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text("rules:\n"
                    "  - name: api\n    fault: status code=503\n    window: 10s..40s\n    probability: 0.2..0.5\n"
                    "  - match: '~u /x'\n    fault: delay ms=100\n    window: 45s..55s\n"
                    "  - fault: hang\n    requests: 100..400\n")
    got = lanes.from_plan(plan)
    assert [ln.rule for ln in got] == ["api", "rule 2", "rule 3"]
    assert got[0].windows == [(10.0, 40.0)] and got[0].ramp == [(10.0, 0.2), (40.0, 0.5)]
    assert got[2].requests == "100..400" and got[2].windows == []
    recs = [{"rule": f"{plan}: rule 2 (line 6)"}, {"rule": "api"}, {"rule": "x-fault header", "fault": "reset"},
            {"rule": "from-record", "window": "1s..2s"}, {"rule": None}]
    merged = lanes.merge(got, recs)
    assert [ln.rule for ln in merged] == ["api", f"{plan}: rule 2 (line 6)", "rule 3", "x-fault header", "from-record"]
    assert merged[1].windows == [(45.0, 55.0)]  # the unnamed plan rule took the records' label
    assert merged[3].fault == "reset" and merged[4].windows == [(1.0, 2.0)]


def test_a_bad_plan_is_one_error(tmp_path):
    plan = tmp_path / "p.yaml"
    plan.write_text("rules:\n  - fault: hang\n    window: soon\n")
    with pytest.raises(SpecError, match=r"p.yaml: rule 1.*FROM..TO"):
        lanes.from_plan(plan)
    with pytest.raises(SpecError, match="cannot read"):
        lanes.from_plan(tmp_path / "missing.yaml")


def test_the_plan_forms_of_issue_24():
    assert lanes.windows("..90s", "w") == [(0.0, 90.0)]
    assert lanes.ramp("0s:0, 30s:0.2", None, "w") == (None, [(0.0, 0.0), (30.0, 0.2)])
    ln = lanes.lane_of("r", {"requests": "100..400", "probability": "0.1..0.5"}, "w")  # ramped over the count
    assert ln.ramp == [] and ln.windows == [] and ln.requests == "100..400 (probability 0.1..0.5 over it)"
