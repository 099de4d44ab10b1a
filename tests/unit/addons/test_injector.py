"""The injector with time and response rules, on mitmproxy's test doubles: t0 from
the first request (not the control endpoint's), max_active slots freed when a flow
ends, a response-triggered rule acting once the upstream's answer is in."""

import asyncio

import pytest
from mitmproxy.test import taddons, tflow

from faults import gates
from faults.addons.control import FaultControl
from faults.addons.injector import FaultInjector


@pytest.fixture
def inj():
    saved = gates.clock.t0, gates.clock.path
    gates.clock.t0, gates.clock.path = None, None
    i = FaultInjector()
    with taddons.context(FaultControl(), i) as tctx:  # the control addon owns fault_control_host
        yield tctx, i
    gates.clock.t0, gates.clock.path = saved


def run(result):
    if result is not None:
        asyncio.run(result)


def live_flow(**kw):
    f = tflow.tflow(**kw)
    f.client_conn.timestamp_end = None
    f.live = True
    return f


def test_t0_is_the_first_request_not_a_control_request(inj):
    tctx, i = inj
    ctl = live_flow()
    ctl.request.host = "faults.control"
    i.requestheaders(ctl)
    assert gates.clock.t0 is None
    f = live_flow()
    i.requestheaders(f)
    assert gates.clock.t0 == f.request.timestamp_start


def test_max_active_slot_is_freed_when_the_flow_ends(inj):
    tctx, i = inj
    tctx.configure(i, faults=["status code=503 max_active=1"])
    rule = i.rules[0]
    a, b = live_flow(), live_flow()
    run(i.request(a))
    run(i.request(b))
    assert a.response.status_code == 503 and b.response is None  # b passed unfaulted
    assert rule.timing.over_max == 1
    run(i.response(a))  # a is over
    c = live_flow()
    run(i.request(c))
    assert c.response.status_code == 503 and rule.timing.active == 1
    i.error(c)  # ended by an error: freed too
    assert rule.timing.active == 0


def test_response_rule_replaces_only_the_matching_answer(inj):
    tctx, i = inj
    tctx.configure(i, faults=["|~c 500|status code=503 body=swapped"])
    for code, want in ((200, 200), (500, 503)):
        f = live_flow(resp=True)
        req_only = f.response
        f.response = None
        assert i.request(f) is None  # nothing decided at the request
        f.response = req_only
        f.response.status_code = code
        i.responseheaders(f)
        run(i.response(f))
        assert f.response.status_code == want
    assert f.response.content == b"swapped" and f.metadata["fault"]["rule"]


def test_response_rule_reset_kills_the_flow_instead_of_the_answer(inj):
    tctx, i = inj
    tctx.configure(i, faults=["|~c 500|reset"])
    f = live_flow(resp=True)
    f.response.status_code = 500
    i.responseheaders(f)
    run(i.response(f))
    assert f.error is not None and f.metadata["fault_wire"]["conn_end"] == "rst"
    assert f.id not in i._active
