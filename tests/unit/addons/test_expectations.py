"""The control endpoint's /expect (and /flows): the pytest fixture's expect over the
report records the proxy keeps in memory, on mitmproxy's test doubles."""

import asyncio
import time

from mitmproxy.test import tflow

from faults.addons.expectations import STABLE_S
from tests.unit.addons.control.test_addon import AUTH, call, control_request, ctl, jbody  # noqa: F401 - ctl is a fixture
from tests.waiting import wait_until, wait_until_async


def faulted(addons, control, path, spec):
    control.cmd_set(f"|~u {path}$|{spec}")
    f = tflow.tflow()
    f.request.path = path
    return call(addons, f)


def test_expect_met_and_not_met(ctl):
    tctx, control, inj, cls, st = ctl
    addons = ctl[1:]
    faulted(addons, control, "/orders", "status code=503")
    assert len(control.expect.records) == 1 and control.expect.records[0]["k6_error_code"] == 1503
    # with count=N the answer waits until no record arrived for STABLE_S (as the fixture)
    wait_until(lambda: time.monotonic() - control.expect.last_record_at >= STABLE_S, 5, "a quiet STABLE_S")
    f = call(addons, control_request("GET", "/expect?code=1503&count=1&client=node&error=ok", headers=AUTH))
    assert f.response.status_code == 200, f.response.content
    body = jbody(f)
    assert body["ok"] and body["matched"] == 1 and body["flows"][0]["url"].endswith("/orders")
    assert body["flows"][0]["client"]["error"] == "ok"  # node: fetch resolves with the 503
    f = call(addons, control_request("GET", "/expect?code=1220&timeout=0", headers=AUTH))
    body = jbody(f)
    assert f.response.status_code == 417 and not body["ok"] and body["matched"] == 0
    assert body["explanation"].startswith("expect(code=1220): expected at least 1 matching flow(s), got 0")
    assert "1503: 1" in body["explanation"] and "/orders" in body["explanation"]
    # POST works too; the control requests themselves are never records
    assert call(addons, control_request("POST", "/expect?fault=status", headers=AUTH)).response.status_code == 200
    assert len(control.expect.records) == 1


def test_expect_window_starts_at_each_rules_change(ctl):
    tctx, control, inj, cls, st = ctl
    addons = ctl[1:]
    faulted(addons, control, "/a", "status code=503")
    control.cmd_set("status code=404")  # a new test's rules: the earlier flows are not its own
    assert list(control.expect.records) == []
    f = call(addons, control_request("GET", "/expect?code=1503&timeout=0", headers=AUTH))
    assert f.response.status_code == 417
    faulted(addons, control, "/b", "status code=503")
    assert len(jbody(call(addons, control_request("GET", "/flows", headers=AUTH)))["flows"]) == 1
    assert call(addons, control_request("DELETE", "/flows")).response.status_code == 403  # a change: token
    assert call(addons, control_request("DELETE", "/flows", headers=AUTH)).response.status_code == 200
    assert list(control.expect.records) == []


def test_bad_parameters_are_400_naming_them(ctl):
    addons = ctl[1:]
    for q, needle in [("cod=1220", "unknown parameter 'cod': did you mean code?"),
                      ("client=nodejs", "did you mean node"), ("count=x", "count='x': expected a whole number"),
                      ("timeout=-1", "timeout=-1: must be >= 0")]:
        f = call(addons, control_request("GET", f"/expect?{q}", headers=AUTH))
        assert f.response.status_code == 400 and needle in jbody(f)["error"], (q, jbody(f))
    assert call(addons, control_request("GET", "/expect?code=0")).response.status_code == 403  # token set: reads too


def test_expect_waits_for_flows_still_in_flight(ctl):
    tctx, control, inj, cls, st = ctl
    addons = ctl[1:]
    control.cmd_set("|~u /slow$|status code=503")

    async def scenario():
        f = control_request("GET", "/expect?code=1503&count=1&timeout=3", headers=AUTH)
        control.request(f)
        assert f.intercepted and f.response is not None  # answered later; nothing else touches it
        await asyncio.sleep(0.3)  # kept: the subject (the answer stays pending while the flow is still to come)
        g = tflow.tflow()
        g.request.path = "/slow"
        await asyncio.to_thread(call, addons, g)  # the flow the test waits for finishes
        await wait_until_async(lambda: not f.intercepted, 5, "the answer to /expect", fail=False)  # checked below
        return f

    f = asyncio.run(scenario())
    assert not f.intercepted and f.response.status_code == 200 and jbody(f)["matched"] == 1


def test_records_are_kept_only_while_the_endpoint_is_on(ctl):
    tctx, control, inj, cls, st = ctl
    tctx.configure(control, fault_control=False)
    assert control.expect.keep not in cls.record_listeners
    faulted(ctl[1:], control, "/x", "status code=503")
    assert list(control.expect.records) == []
