"""Upload faults are chosen at the request head, every other flow fault when the
request has arrived: a rule is only ever offered at its own moment (never twice,
never to a flow it does not match)."""

from mitmproxy.test import tflow

from faults.plan import Plan, rule_from_option
from faults.plan.filters import parse_filter


def test_each_rule_is_offered_at_its_own_level_only():
    up = rule_from_option("|~u /upload|reset when=mid_request", 0)
    late = rule_from_option("|~u /upload|reset when=before_response", 1)
    early413 = rule_from_option("|~u /big|status code=413 when=early", 2)
    slow = rule_from_option("|~u /slow|throttle direction=request bytes_per_s=10", 3)
    dns = rule_from_option("|~d x|dns rcode=nxdomain", 4)
    assert [r.fault.level for r in (up, late, early413, slow, dns)] == [
        "request_head", "flow", "request_head", "request_head", "dns"]
    plan = Plan([up, late, early413, slow, dns])
    f = tflow.tflow()
    f.request.path = "/upload"
    assert plan.select(f, level="request_head") is up
    assert plan.select(f, level="flow") is late
    other = tflow.tflow()
    other.request.path = "/elsewhere"
    assert plan.select(other, level="request_head") is None and plan.select(other, level="flow") is None
    assert (up.matched, late.matched, early413.matched, slow.matched) == (1, 1, 0, 0)


def test_a_pass_that_finds_nothing_still_sees_every_change():
    """``select`` answers a level no rule has, or a host no rule can match, from its indexes:
    rules appended or replaced, a filter replaced, a host rewritten between passes are seen."""
    plan = Plan([rule_from_option(f"|~d host-{i}.invalid|status code=503", i) for i in range(40)])
    f = tflow.tflow()
    f.request.host = "a.test"
    assert plan.select(f, level="response") is None and plan.select(f, level="flow") is None
    late = rule_from_option("|~d a.test & ~c 500|status code=502", 40)
    plan.rules.append(late)  # the list grows in place
    f.response = tflow.tresp(status_code=500)
    assert plan.select(f, level="response") is late
    plan.rules = plan.rules[:40]  # replaced
    assert plan.select(f, level="response") is None
    plan.rules[3].filter = parse_filter("~d a.test")  # a filter replaced
    assert plan.select(f, level="flow") is plan.rules[3]
    f.request.host = "host-7.invalid"  # another addon rewrote the host between two passes
    assert plan.select(f, level="flow") is plan.rules[7]
    assert plan.has_level("flow") and not plan.has_level("response")
