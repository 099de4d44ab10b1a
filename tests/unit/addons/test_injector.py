"""The injector and the classifier on mitmproxy's own test doubles."""

import asyncio
import json
import time

import pytest
from mitmproxy import exceptions, http
from mitmproxy.test import taddons, tflow

from faults import gates
from faults.addons.annotate import Classifier
from faults.addons.control import FaultControl
from faults.addons.injector import FaultInjector
from tests.waiting import wait_until_async


def run(coro):
    return asyncio.get_event_loop().run_until_complete(coro) if False else asyncio.run(coro)


def make(**opts):
    inj, cls = FaultInjector(), Classifier()
    tctx = taddons.context(inj, cls)
    if opts:
        tctx.configure(inj, **{k: v for k, v in opts.items() if k != "fault_report"})
    if "fault_report" in opts:
        tctx.configure(cls, fault_report=opts["fault_report"])
    return tctx, inj, cls


async def through(inj, cls, flow):
    cls.requestheaders(flow)
    if (pending := inj.request(flow)) is not None:  # as mitmproxy does: await only an awaitable
        await pending
    if flow.response is None and not flow.error:
        flow.response = tflow.tresp()
    if flow.error:
        inj.error(flow)
        cls.error(flow)
    else:
        if (pending := inj.response(flow)) is not None:
            await pending
        cls.response(flow)
    return flow


def test_status_fault_answers_without_upstream_and_is_annotated(tmp_path):
    rep = tmp_path / "r.jsonl"
    with make(faults=["|~u /api|status code=503 retry_after=2"], fault_report=str(rep))[0] as tctx:
        inj, cls = tctx.master.addons.chain[-2], tctx.master.addons.chain[-1]
        f = tflow.tflow()
        f.request.path = "/api/x"
        asyncio.run(through(inj, cls, f))
        assert f.response.status_code == 503 and f.response.headers["retry-after"] == "2"
        assert f.metadata["k6_error_code"] == 1503
        assert f.marked and "status code=503" in f.comment and "1503" in f.comment
        cls.done()
    rec = json.loads(rep.read_text().strip())
    assert rec["k6_error_code"] == 1503 and rec["fault"] == "status code=503 retry_after=2"
    ann = rec["annotation"]
    assert ann == f.metadata["annotation"]  # the same object in metadata and report
    assert (ann["status"], ann["id"], ann["k6_error_code"]) == (503, "http.status.service_unavailable", 1503)
    assert ann["code"] >> 24 == 5 and isinstance(ann["message"], str)
    assert rec["method"] == "GET" and rec["url"].endswith("/api/x") and rec["http_version"] == "HTTP/1.1"


def test_unselected_flows_are_untouched_but_still_classified():
    with make(faults=["|~u /api|status code=503"])[0] as tctx:
        inj, cls = tctx.master.addons.chain[-2], tctx.master.addons.chain[-1]
        f = tflow.tflow()
        f.request.path = "/other"
        asyncio.run(through(inj, cls, f))
        assert f.response.status_code == 200 and "fault" not in f.metadata
        assert f.metadata["k6_error_code"] == 0 and not f.marked


def test_natural_upstream_status_and_bad_gzip_are_classified():
    with make()[0] as tctx:
        inj, cls = tctx.master.addons.chain[-2], tctx.master.addons.chain[-1]
        f = tflow.tflow(resp=True)
        f.response.status_code = 404
        cls.response(f)
        assert f.metadata["k6_error_code"] == 1404
        g = tflow.tflow(resp=True)
        g.response.headers["content-encoding"] = "gzip"
        g.response.raw_content = b"plain text"
        cls.response(g)
        assert g.metadata["k6_error_code"] == 1701


def test_x_fault_header_off_by_default_on_strips_and_applies():
    with make()[0] as tctx:
        inj, cls = tctx.master.addons.chain[-2], tctx.master.addons.chain[-1]
        f = tflow.tflow()
        f.request.headers["x-fault"] = "status code=418"
        asyncio.run(through(inj, cls, f))
        assert f.response.status_code == 200 and "x-fault" not in f.request.headers  # stripped, not applied
        tctx.configure(inj, fault_header=True)
        g = tflow.tflow()
        g.request.headers["x-fault"] = "status code=418"
        asyncio.run(through(inj, cls, g))
        assert g.response.status_code == 418 and "x-fault" not in g.request.headers


def test_invalid_x_fault_header_gets_400_naming_the_problem():
    with make(fault_header=True)[0] as tctx:
        inj, cls = tctx.master.addons.chain[-2], tctx.master.addons.chain[-1]
        f = tflow.tflow()
        f.request.headers["x-fault"] = "reset when=sometimes"
        asyncio.run(through(inj, cls, f))
        assert f.response.status_code == 400
        assert b"invalid x-fault header" in f.response.content and b"when='sometimes'" in f.response.content
        assert f.metadata["k6_error_code"] == 1400


def test_bad_option_and_bad_plan_are_options_errors_at_runtime(tmp_path):
    inj = FaultInjector()

    async def scenario():
        with taddons.context(inj) as tctx:
            inj.running()
            with pytest.raises(exceptions.OptionsError, match=r"faults option entry 0 .*unknown fault kind 'boom'"):
                tctx.configure(inj, faults=["|~u x|boom"])
            bad = tmp_path / "plan.yaml"
            bad.write_text("rules:\n  - match: '~u /a'\n    fault: delay ms=-1\n")
            with pytest.raises(exceptions.OptionsError, match=r"fault_plan: .*plan.yaml: rule 1 \(line 2\): ms=-1: must be >= 0"):
                tctx.configure(inj, fault_plan=str(bad))
            with pytest.raises(exceptions.OptionsError, match="cannot read fault plan"):
                tctx.configure(inj, fault_plan=str(tmp_path / "missing.yaml"))
            await inj.done()

    asyncio.run(scenario())


def test_bad_option_at_startup_is_logged_plainly(caplog):
    inj = FaultInjector()
    with taddons.context(inj) as tctx:
        tctx.configure(inj, faults=["|~u x|status code=1000"])
    assert "faults: faults option entry 0 ('|~u x|status code=1000'): code=1000: must be <= 599" in caplog.text
    assert inj.rules == []


def test_plan_reload_keeps_last_good_plan(tmp_path, caplog):
    p = tmp_path / "plan.yaml"
    p.write_text("rules:\n  - fault: status code=501\n")
    inj = FaultInjector()

    async def scenario():
        with taddons.context(inj) as tctx:
            tctx.configure(inj, fault_plan=str(p))
            inj.running()
            assert [r.spec.text for r in inj.rules] == ["status code=501"]
            p.write_text("rules:\n  - fault: status code=502\n")
            import os
            os.utime(p, (1, 1))
            await wait_until_async(lambda: [r.spec.text for r in inj.rules] == ["status code=502"], 5,
                                   "the edited plan (502)", seen=lambda: inj.rules)
            p.write_text("rules:\n  - fault: status code=9999\n")
            os.utime(p, (2, 2))
            await wait_until_async(lambda: "keeping the last good plan" in caplog.text, 5, "the bad edit's refusal",
                                   seen=lambda: caplog.text)
            assert [r.spec.text for r in inj.rules] == ["status code=502"]
            assert "keeping the last good plan" in caplog.text and "status code=9999" not in caplog.text
            assert "code=9999: must be <= 599" in caplog.text
            await inj.done()

    asyncio.run(scenario())


def test_delay_awaits_without_blocking_the_loop():
    """Told by the order of events, not by timing: another flow is answered while one is
    held by its delay, which then ends when its client leaves."""
    async def scenario():
        with taddons.context(FaultInjector(), Classifier()) as tctx:
            inj, cls = tctx.master.addons.chain[-2], tctx.master.addons.chain[-1]
            tctx.configure(inj, faults=["|~u /slow|delay ms=5000"])
            slow, fast = tflow.tflow(), tflow.tflow()
            slow.request.path = "/slow"
            slow.client_conn.timestamp_end = fast.client_conn.timestamp_end = None  # live clients
            held = asyncio.ensure_future(through(inj, cls, slow))
            await wait_until_async(lambda: slow.metadata.get("fault_wire", {}).get("delay_ms") == 5000, 5,
                                   "the slow flow's delay under way")
            await through(inj, cls, fast)
            assert fast.response is not None and not held.done()  # a loop blocked by the delay would finish slow first
            slow.client_conn.timestamp_end = time.time()  # its client leaves: the delay ends
            await held
            assert slow.metadata["fault_wire"]["client_gave_up"] is True

    asyncio.run(scenario())


def test_informational_and_switching_protocols_answers_are_classified():
    with make()[0] as tctx:
        inj, cls = tctx.master.addons.chain[-2], tctx.master.addons.chain[-1]
        f = tflow.tflow(resp=True)
        f.response.status_code = 103
        cls.response(f)
        assert f.metadata["k6_error_code"] == 1050 and f.metadata["k6"]["certainty"] == "likely"
        g = tflow.tflow(resp=True)
        g.response.status_code = 101
        cls.response(g)
        assert g.metadata["k6_error_code"] == 0 and "101 Switching Protocols" in g.metadata["k6_error"]


# -- time and response rules (faults.gates, docs/time.md) ----------------------------

@pytest.fixture
def inj():
    saved = gates.clock.t0, gates.clock.path
    gates.clock.t0, gates.clock.path = None, None
    i = FaultInjector()
    with taddons.context(FaultControl(i), i) as tctx:  # the control addon owns fault_control_host
        yield tctx, i
    gates.clock.t0, gates.clock.path = saved


def settle(result):
    """Await a hook's result only if it is awaitable, as mitmproxy does."""
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
    settle(i.request(a))
    settle(i.request(b))
    assert a.response.status_code == 503 and b.response is None  # b passed unfaulted
    assert rule.timing.over_max == 1
    settle(i.response(a))  # a is over
    c = live_flow()
    settle(i.request(c))
    assert c.response.status_code == 503 and rule.timing.active == 1
    i.error(c)  # ended by an error: freed too
    assert rule.timing.active == 0


def test_max_active_flows_record_when_they_held_the_slot(inj):
    """Told by the hooks' order, not by timing: a flow's slot interval begins when its
    rule applies and ends when its fault is over; the next holder takes the freed slot
    no earlier; a flow over the cap, and any rule without max_active, records neither."""
    tctx, i = inj
    tctx.configure(i, faults=["|~u /capped|status code=503 max_active=1", "|~u /plain|status code=502"])
    a, over, plain = live_flow(), live_flow(), live_flow()
    a.request.path = over.request.path = "/capped"
    plain.request.path = "/plain"
    for f in (a, over, plain):
        settle(i.request(f))
    wire = a.metadata["fault_wire"]
    assert wire["max_active_taken_t"] >= 0 and "max_active_released_t" not in wire  # held
    assert "fault_wire" not in over.metadata and over.response is None  # over the cap: untouched
    assert plain.response.status_code == 502 and "max_active_taken_t" not in plain.metadata["fault_wire"]
    settle(i.response(plain))
    assert "max_active_released_t" not in plain.metadata["fault_wire"]
    settle(i.response(a))
    assert wire["max_active_released_t"] >= wire["max_active_taken_t"]
    b = live_flow()
    b.request.path = "/capped"
    settle(i.request(b))
    assert b.metadata["fault_wire"]["max_active_taken_t"] >= wire["max_active_released_t"]
    i.error(b)  # ended by an error: released too
    assert b.metadata["fault_wire"]["max_active_released_t"] >= b.metadata["fault_wire"]["max_active_taken_t"]


def test_max_active_slot_times_reach_the_report_record_facts(tmp_path):
    rep = tmp_path / "r.jsonl"
    saved = gates.clock.t0, gates.clock.path
    gates.clock.t0, gates.clock.path = None, None
    try:
        with make(faults=["status code=503 max_active=1"], fault_report=str(rep))[0] as tctx:
            inj, cls = tctx.master.addons.chain[-2], tctx.master.addons.chain[-1]
            f = asyncio.run(through(inj, cls, tflow.tflow()))
            cls.done()
    finally:
        gates.clock.t0, gates.clock.path = saved
    facts = json.loads(rep.read_text().strip())["facts"]
    assert facts["max_active_released_t"] >= facts["max_active_taken_t"] >= 0
    assert facts["max_active_taken_t"] == f.metadata["fault_wire"]["max_active_taken_t"]


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
        settle(i.response(f))
        assert f.response.status_code == want
    assert f.response.content == b"swapped" and f.metadata["fault"]["rule"]


def test_response_rule_reset_kills_the_flow_instead_of_the_answer(inj):
    tctx, i = inj
    tctx.configure(i, faults=["|~c 500|reset"])
    f = live_flow(resp=True)
    f.response.status_code = 500
    i.responseheaders(f)
    settle(i.response(f))
    assert f.error is not None and f.metadata["fault_wire"]["conn_end"] == "rst"
    assert f.id not in i._active


def test_response_rule_delay_holds_the_answer_and_says_so(inj):
    tctx, i = inj
    tctx.configure(i, faults=["|~c 500|delay ms=20", "|~u /never|status code=503"])
    f = live_flow(resp=True)
    f.response.status_code = 500
    i.responseheaders(f)
    settle(i.response(f))
    wire = f.metadata["fault_wire"]
    assert f.response.status_code == 500 and wire["phase"] == "before_response" and wire["held_ms"] >= 15


def test_no_response_rule_no_response_selection(inj):
    tctx, i = inj
    tctx.configure(i, faults=["|~u /never|status code=503"])
    assert not i.option_plan.has_level("response") and i.option_plan.has_level("flow")
    f = live_flow(resp=True)
    f.response.status_code = 500
    assert i._select_response(f) is None


def test_body_rule_is_decided_once_the_body_is_in(inj):
    tctx, i = inj
    tctx.configure(i, faults=["|~bs oops|status code=502"])
    for body, want in ((b"all fine", 200), (b"an oops inside", 502)):
        f = live_flow(resp=True)
        f.response.content = body
        i.responseheaders(f)  # nothing decided at the head
        assert f.id not in i._active
        settle(i.response(f))
        assert f.response.status_code == want


def test_the_passes_of_one_flow_see_rules_set_and_hosts_rewritten_between_its_hooks(inj):
    from faults.plan import Plan, rule_from_option

    tctx, i = inj
    tctx.configure(i, faults=[f"|~d host-{n}.invalid|status code=503" for n in range(40)])
    for host, want in (("a.test", 500), ("b.test", 502)):  # the upstream's 500, or the fault's 502
        i.set_runtime_plan(Plan())
        f = live_flow(resp=True)
        answer, f.response = f.response, None
        f.request.host = "a.test"
        i.requestheaders(f)
        assert i.request(f) is None  # no rule for a.test
        i.set_runtime_plan(Plan([rule_from_option("|~d b.test & ~c 500|status code=502", 0)]))
        f.request.host = host  # e.g. another addon rewrote it after the request hook
        f.response, answer.status_code = answer, 500
        i.responseheaders(f)
        settle(i.response(f))
        assert f.response.status_code == want
