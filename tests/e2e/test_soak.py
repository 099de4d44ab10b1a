"""Reduced soak (issue 8): ~2,000 HTTP/1.1 requests through the real mitmdump,
30% faulted with mixed faults (reset, close, hang released by a client
timeout, delay, status). The full 20,000-request run is ``python bench/run.py``.
Bounded to about a minute including start-up; nothing here asserts on speed."""

import pytest

from bench.soak import run_soak


@pytest.fixture(scope="module")
def soak(tmp_path_factory):
    return run_soak(n=2000, fault_share=0.3, concurrency=40, hang_timeout=0.5, timeout=15,
                    settle=10, workdir=tmp_path_factory.mktemp("soak"))


def test_no_problems(soak):
    assert soak["problems"] == [], soak


def test_proxy_stays_up_and_answers_unfaulted_requests(soak):
    assert soak["alive"]
    assert soak["unfaulted_failed"] == 0
    assert soak["outcomes"]["none"] == {"ok": soak["requests"] - soak["faulted"]}


def test_every_request_exactly_once_in_the_report(soak):
    assert soak["report_missing"] == 0 and soak["report_duplicates"] == 0
    assert soak["report_records"] == soak["requests"]


def test_no_fault_on_unselected_requests(soak):
    assert soak["fault_on_unselected"] == 0


def test_fds_back_to_baseline_and_rss_bounded(soak):
    assert soak["fd_end"] <= soak["fd_baseline"]
    assert soak["rss_growth_mib"] < 64, soak  # generous: a leak of a few KiB per request would show
