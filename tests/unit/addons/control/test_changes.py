"""The runtime rules as a log of changes (faults/addons/control/changes.py): changes
apply newest last whatever order they arrive in (workers send them to each other), and
the run's t0 as a command or endpoint gives it."""

from types import SimpleNamespace

import pytest
from mitmproxy.test import taddons

from faults.addons.control import FaultControl, changes
from faults.addons.control.changes import t0_of
from faults.addons.injector import FaultInjector
from faults.spec import SpecError


def test_control_changes_apply_newest_last_whatever_order_they_arrive_in():
    inj = FaultInjector()
    ctl = FaultControl(inj)
    with taddons.context(ctl, inj):
        ctl.apply_change({"op": "set", "specs": ["|~u /b|status code=502"], "seq": 5})
        ctl.apply_change({"op": "set", "specs": ["|~u /a|status code=503"], "seq": 3})  # older: skipped
        assert [r.spec.text for r in inj.runtime_plan.rules] == ["status code=502"]
        ctl.apply_change({"op": "add", "specs": ["|~u /c|status code=504 first=1 gates=global"], "seq": 6})
        assert [r.epoch for r in inj.runtime_plan.rules] == ["runtime:5", "runtime:6"]
        ctl.apply_change({"op": "add", "specs": ["|~u /d|status code=500"], "seq": 4})  # before the set: moot
        assert [r.spec.text for r in inj.runtime_plan.rules] == ["status code=502", "status code=504"]
        ctl.apply_change({"op": "clear", "seq": 7})
        assert inj.runtime_plan.rules == []


@pytest.mark.parametrize("order", [(1, 2, 3), (3, 2, 1), (2, 3, 1), (3, 1, 2)])
def test_concurrent_changes_end_the_same_on_every_worker(order):
    """Two additions and a set sent at once through different workers: each worker
    sees them in its own order and ends with the same rules."""
    changes = {1: {"op": "add", "specs": ["|~u /a|status code=501"], "seq": 1},
               2: {"op": "set", "specs": ["|~u /s|status code=502"], "seq": 2},
               3: {"op": "add", "specs": ["|~u /b|status code=503"], "seq": 3}}
    inj = FaultInjector()
    ctl = FaultControl(inj)
    with taddons.context(ctl, inj):
        for i in order:
            ctl.apply_change(changes[i])
        assert [r.spec.text for r in inj.runtime_plan.rules] == ["status code=502", "status code=503"]
        with pytest.raises(SpecError):
            ctl.apply_change({"op": "set", "specs": ["|~u /a|status code=1000"], "seq": 8})


def test_t0_of_reads_the_runs_age_or_next(monkeypatch):
    monkeypatch.setattr(changes, "time", SimpleNamespace(time=lambda: 1000.0))  # now, held still
    assert t0_of("next") is None and t0_of(" NEXT ") is None
    assert t0_of("") == 1000.0 and t0_of("60") == 940.0
    for bad in ("-1", "abc", str(30 * 86400 + 1), "١٢"):  # negative, not a number, too old, not ASCII digits
        with pytest.raises(ValueError, match="expected SECONDS from 0 to 2592000"):
            t0_of(bad)
