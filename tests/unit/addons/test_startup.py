"""faults.addons.startup: a misspelt fault option is an error with a did-you-mean
(mitmproxy itself keeps unknown --set names silently), and one start-up line
says what is active. Start-up problems are one line naming the option, the value and
the reason: bad values mitmproxy deferred for our options (a bad bool once made
mitmproxy drop the whole script silently), and configure errors before the proxy
runs (logged, so mitmdump exits 1; raised once running)."""

import logging
from typing import Optional

import pytest
from mitmproxy import exceptions, options
from mitmproxy.test import taddons

from faults.addons import FaultAddon
from faults.addons.annotate import Classifier
from faults.addons.startup import FaultStartup, refuse_bad_deferred, unknown_options


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
    assert any("'fault_nonsense'" in e and "options: fault_alt_svc, fault_clients, fault_control," in e for e in errors)
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

@pytest.mark.parametrize("setting, needle", [
    ("fault_header=maybe", "option fault_header='maybe' refused: expected true or false"),
    ("fault_seed=abc", "option fault_seed='abc' refused: expected a whole number"),
    ("fault_seed=٣", "option fault_seed='٣' refused: expected a whole number (ASCII digits 0-9)"),
    ("fault_seed=" + "1" * 5000, "a number is at most 32 characters"),
])
def test_bad_deferred_values_are_dropped_with_one_line(setting, needle):
    opts = options.Options()
    opts.set(setting, "fault_other=1", defer=True)  # as mitmdump does before the script loads
    opts.add_option("fault_header", bool, False, "")
    opts.add_option("fault_seed", Optional[int], None, "")
    problems = refuse_bad_deferred(opts)
    assert len(problems) == 1 and needle in problems[0] and "\n" not in problems[0], problems
    assert len(problems[0]) < 300
    opts.process_deferred()  # what mitmproxy runs next: nothing left to raise
    assert list(opts.deferred) == ["fault_other"]  # unknown names stay for the typo check


def test_good_deferred_values_pass():
    opts = options.Options()
    opts.set("fault_header=true", "fault_seed=7", defer=True)
    opts.add_option("fault_header", bool, False, "")
    opts.add_option("fault_seed", Optional[int], None, "")
    assert refuse_bad_deferred(opts) == []
    opts.process_deferred()
    assert opts.fault_header is True and opts.fault_seed == 7


@pytest.mark.parametrize("make, needle", [
    (lambda tmp: [(tmp / "afile").write_text("x"), tmp / "afile" / "r.jsonl"][1], "a parent of it is a file"),
    (lambda tmp: tmp, "it is a directory"),
    (lambda tmp: "/proc/faults-report.jsonl", "No such file or directory"),
])
def test_an_unwritable_report_is_one_line_at_start_and_refused_once_running(tmp_path, caplog, make, needle):
    path = str(make(tmp_path))
    cls = Classifier()
    with taddons.context(cls) as tctx:
        with caplog.at_level(logging.ERROR):
            tctx.configure(cls, fault_report=path)
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and not errors[0].exc_info, errors
        msg = errors[0].getMessage()
        assert msg.startswith(f"faults: fault_report={path}: cannot write a report there: ") and needle in msg, msg
        cls.running()
        with pytest.raises(exceptions.OptionsError, match="cannot write a report there"):
            tctx.configure(cls, fault_report=path)
        cls.done()
