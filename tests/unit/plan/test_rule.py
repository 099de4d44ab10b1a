"""Rules (faults/plan/rule.py) with time: window, requests, ramps and max_active on rules; fault
lists; rules decided at the response head; and how each is refused."""

import time

import pytest
from mitmproxy.test import tflow

from faults import gates, plan, worker
from faults.counter import LocalCounter
from faults.errors import SpecError


@pytest.fixture(autouse=True)
def fresh_clock():
    saved = gates.clock.t0, gates.clock.path
    gates.clock.t0, gates.clock.path = None, None
    yield gates.clock
    gates.clock.t0, gates.clock.path = saved


def at(clock, t):
    """The run is ``t`` seconds old now."""
    clock.t0 = time.time() - t


def started_now():
    """A flow whose request starts now: windows and ramps read the request's own start."""
    f = tflow.tflow()
    f.request.timestamp_start = time.time()
    return f


def rule(text, seed=1):
    return plan.rule_from_option(text, 0, seed)


def test_window_applies_only_inside(fresh_clock):
    r = rule("status code=503 window=2s..4s")
    got = []
    for t in (0, 1.9, 2.1, 3.9, 4.1, 10):
        at(fresh_clock, t)
        got.append(r.select(started_now()))
    assert got == [False, False, True, True, False, False]
    assert r.matched == 6 and r.applied == 2


def test_the_first_selection_starts_the_clock_if_nothing_did(fresh_clock):
    r = rule("status code=503 window=..1s")
    assert r.select(started_now()) and fresh_clock.t0 is not None


def test_requests_window_counts_matches():
    r = rule("|~u /xq$|status code=503 requests=3..5")
    f_other = started_now()
    f_other.request.path = "/xb"
    got = []
    for _ in range(7):
        assert not r.select(f_other)  # not a match: not counted
        f = started_now()
        f.request.path = "/xq"
        got.append(r.select(f))
    assert got == [False, False, True, True, True, False, False]


def test_requests_window_counts_across_workers_with_global_gates():
    saved = worker.current(), worker.counter()
    worker.set_current("0", LocalCounter())
    try:
        a, b = rule("status code=503 requests=2..3 gates=global"), rule("status code=503 requests=2..3 gates=global")
        # two workers' copies of one rule share the count: matches 1..4 go a, b, a, b
        assert [x.select(started_now()) for x in (a, b, a, b)] == [False, True, True, False]
    finally:
        worker.set_current(*saved)


def test_ramped_draws_follow_the_ramp_and_the_seed(fresh_clock):
    def draws(seed):
        r = rule("status code=503 window=0s..10s probability=0..1", seed)
        out = []
        for i in range(400):
            at(fresh_clock, i / 40)  # 0 .. 10 s
            out.append(r.select(started_now()))
        return out

    a = draws(3)
    assert a == draws(3) and a != draws(4)  # reproducible with a seed
    first, last = sum(a[:100]), sum(a[300:])
    assert first < 30 and last > 70  # p ~ 0.125 vs ~ 0.875


def test_keyframes_in_yaml(fresh_clock):
    p = plan.load_yaml("rules:\n  - fault: status code=503\n    probability: {0s: 1, 5s: 1, 6s: 0}\n", "p")
    r = p.rules[0]
    at(fresh_clock, 1)
    assert r.select(started_now())
    at(fresh_clock, 7)
    assert not r.select(started_now())
    assert r.describe()["ramp"] == {"axis": "t", "keyframes": [[0.0, 1.0], [5.0, 1.0], [6.0, 0.0]]}


def test_max_active_lets_the_rest_pass_and_counts_them():
    r = rule("delay ms=100 max_active=2")
    assert [r.select(started_now()) for _ in range(4)] == [True, True, False, False]
    r.release()
    assert r.select(started_now())
    d = r.describe()
    assert (d["max_active"], d["active"], d["over_max_active"], d["applied"]) == (2, 2, 2, 3)


def test_max_active_on_a_dns_fault_is_refused():
    with pytest.raises(SpecError, match="max_active counts requests in flight"):
        plan.load_yaml("rules:\n  - fault: dns answer=empty\n    max_active: 2\n", "p")


def test_fault_list_in_yaml_and_its_errors_name_the_rule_line():
    p = plan.load_yaml("rules:\n  - fault: [status code=503, {kind: delay, ms: 200}]\n", "p")
    assert p.rules[0].spec.text == "delay ms=200 + status code=503"
    with pytest.raises(SpecError, match=r"p: rule 1 \(line 2\): 'status code=503' and 'reset' cannot combine"):
        plan.load_yaml("rules:\n  - fault: [status code=503, reset]\n", "p")
    with pytest.raises(SpecError, match="empty fault list"):
        plan.load_yaml("rules:\n  - fault: []\n", "p")


def test_response_rules_are_decided_at_the_response_head():
    p = plan.Plan([rule("|~c 500|reset")])
    f = started_now()
    assert p.select(f, level="flow") is None  # never at the request
    f = tflow.tflow(resp=True)
    f.response.status_code = 200
    assert p.select(f, level="response") is None
    f.response.status_code = 500
    assert p.select(f, level="response") is p.rules[0]


@pytest.mark.parametrize("text, needle", [
    ("|~c 500|status code=503 when=early", "acts while the request arrives, before any response"),
    ("|~hs x-a|reset when=mid_request", "acts while the request arrives"),
    ("|~c 500|tls handshake=alert", "on the TLS handshake"),
    ("|~bs oops|reset when=mid_body", "acts as the body streams"),
    ("|~bs oops|stall after_bytes=10", "acts as the body streams"),
    ("|~bs oops|delay ms=5 + close when=after_headers", "acts as the body streams"),
    ("|~bs oops|status code=503 when=early", "before any response"),
])
def test_response_rules_whose_fault_cannot_act_then_are_refused(text, needle):
    with pytest.raises(SpecError, match=needle):
        rule(text)


def test_the_window_reads_the_requests_start_not_the_decision_time(fresh_clock):
    """Its record's ``t`` is the request's start: a request that began just before the window
    and was decided inside it is not faulted (both sides of the edge read one clock)."""
    r = rule("status code=503 window=2s..4s")
    at(fresh_clock, 2.1)  # decided 2.1 s into the run ...
    f = started_now()
    f.request.timestamp_start -= 0.2  # ... for a request that began at 1.9 s
    assert not r.select(f)
    f.request.timestamp_start += 0.4  # one that began at 2.3 s (decided later than that is fine)
    assert r.select(f)
