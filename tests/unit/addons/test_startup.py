"""Start-up problems are one line naming the option, the value and the reason
(faults/addons/startup.py): bad values mitmproxy deferred for our options (a bad
bool once made mitmproxy drop the whole script silently), and configure errors
before the proxy runs (logged, so mitmdump exits 1; raised once running)."""

import logging
from typing import Optional

import pytest
from mitmproxy import exceptions, options
from mitmproxy.test import taddons

from faults.addons.annotate import Classifier
from faults.addons.startup import refuse_bad_deferred


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
