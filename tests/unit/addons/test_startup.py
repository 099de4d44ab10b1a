"""faults.addons.startup: a misspelt fault option is an error with a did-you-mean
(mitmproxy itself keeps unknown --set names silently), and one start-up line
says what is active."""

import logging

from mitmproxy.test import taddons

from faults.addons import FaultAddon
from faults.addons.startup import FaultStartup, unknown_options


def addon_context():
    top = FaultAddon()
    tctx = taddons.context(top)
    return tctx, top


def test_unknown_fault_option_is_an_error_with_did_you_mean(caplog):
    tctx, top = addon_context()
    with tctx:
        # what `mitmdump --set fault_plam=x --set faults_seed=3 --set web_port=1` leaves behind
        tctx.options.set("fault_plam=plan.yaml", "faults_seed=3", "fault_nonsense=1", "someone_else=1", defer=True)
        with caplog.at_level(logging.INFO):
            top.addons[-1].running()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert "faults: unknown option 'fault_plam' (--set fault_plam=...): did you mean fault_plan?" in errors
    assert any("'faults_seed'" in e and "did you mean fault_seed?" in e for e in errors)
    assert any("'fault_nonsense'" in e and "options: fault_clients, fault_control," in e for e in errors)
    assert not any("someone_else" in e for e in errors)  # not ours: another script may add it later
    assert not any("faults: active" in r.getMessage() for r in caplog.records)


def test_start_up_line_says_what_is_active(tmp_path, caplog):
    plan = tmp_path / "plan.yaml"
    plan.write_text("rules:\n  - {match: '~u /a', fault: status code=503}\n  - {fault: hang}\n")
    tctx, top = addon_context()
    with tctx:
        tctx.options.update(fault_plan=str(plan), faults=["|~u /b|status code=500"], fault_header=True,
                            fault_control=True, fault_control_token="s3cret")
        with caplog.at_level(logging.INFO):
            top.addons[-1].running()
            top.addons[-1].running()  # said once
    lines = [r.getMessage() for r in caplog.records if "faults: active" in r.getMessage()]
    assert lines == [f"faults: active: plan {plan} (2 rules), 1 option rule, x-fault header on, control endpoint "
                     "on at http://faults.control/ through this proxy (token set)"]


def test_start_up_line_defaults(caplog):
    tctx, top = addon_context()
    with tctx, caplog.at_level(logging.INFO):
        top.addons[-1].running()
    assert ("faults: active: no plan file, 0 option rules, x-fault header off, control endpoint off"
            in caplog.text)


def test_unknown_options_is_case_insensitive_on_the_prefix():
    assert unknown_options({"Fault_header": []}, ["fault_header", "faults"]) == [
        "faults: unknown option 'Fault_header' (--set Fault_header=...): did you mean fault_header?"]
    assert isinstance(FaultAddon().addons[-1], FaultStartup)
