"""Runtime control (commands + endpoint) and the status addon on mitmproxy's test doubles."""

import asyncio
import io
import json
from types import SimpleNamespace

import pytest
from mitmproxy import exceptions
from mitmproxy.test import taddons, tflow

from faults.addons.annotate import Classifier
from faults.addons.control import FaultControl, changes
from faults.addons.injector import FaultInjector
from faults.addons.status import FaultStatus, har_dict

TOKEN = "s3cret"


@pytest.fixture
def ctl():
    inj, cls = FaultInjector(), Classifier()
    st = FaultStatus(stream=io.StringIO(), classifier=cls)
    control = FaultControl(inj, cls, st)
    cls.listeners.append(st.count)
    with taddons.context(control, inj, cls, st) as tctx:
        tctx.configure(control, fault_control=True, fault_control_token=TOKEN)
        tctx.configure(inj, fault_seed=7)
        yield tctx, control, inj, cls, st


def control_request(method="GET", path="/", body=b"", headers=None, host="faults.control"):
    f = tflow.tflow()
    f.request.method = method
    f.request.host = host
    f.request.path = path
    f.request.content = body
    for k, v in (headers or {}).items():
        f.request.headers[k] = v
    return f


def hook(result):
    """Run a hook's result the way mitmproxy does: await it only if it is awaitable."""
    if result is not None:
        asyncio.run(result)


def call(addons, flow):
    control, inj, cls, st = addons
    cls.requestheaders(flow)
    control.request(flow)
    hook(inj.request(flow))
    if flow.response is None and not flow.error:
        flow.response = tflow.tresp()
    hook(inj.response(flow))
    cls.response(flow)
    return flow


def jbody(flow):
    return json.loads(flow.response.content)


AUTH = {"authorization": f"Bearer {TOKEN}"}


def test_commands_set_list_stats_clear(ctl):
    tctx, control, inj, cls, st = ctl
    tctx.command(control.cmd_set, "|~u /api|status code=503 retry_after=2", "reset when=mid_body probability=0.5")
    assert [r.spec.text for r in inj.runtime_plan.rules] == ["status code=503 retry_after=2", "reset when=mid_body"]
    assert inj.rules[0].where.startswith("runtime rule 0")
    listing = tctx.command(control.cmd_list)
    assert len(listing) == 2 and "status code=503" in listing[0] and listing[0].startswith("runtime")
    f = tflow.tflow()
    f.request.path = "/api/x"
    call((control, inj, cls, st), f)
    assert f.response.status_code == 503 and f.metadata["k6_error_code"] == 1503
    stats = json.loads(tctx.command(control.cmd_stats))
    assert stats["codes"] == {"1503": 1} and stats["rules"][0]["applied"] == 1 and stats["faulted"] == 1
    tctx.command(control.cmd_add, "status code=404")
    assert len(inj.runtime_plan.rules) == 3
    tctx.command(control.cmd_clear)
    assert inj.runtime_plan.rules == []


def test_commands_validate_like_the_plan(ctl):
    tctx, control, inj, *_ = ctl
    tctx.command(control.cmd_set, "status code=503")
    for bad, needle in [("status code=99", "code"), ("|~zz x|status code=503", "flow filter"),
                        ("nosuchkind", "nosuchkind"), ("status code=503 probability=2", "probability")]:
        with pytest.raises(exceptions.CommandError, match=needle):
            tctx.command(control.cmd_set, bad)
    # a failed set keeps the previous rules
    assert [r.spec.text for r in inj.runtime_plan.rules] == ["status code=503"]


def test_command_load_yaml(ctl, tmp_path):
    tctx, control, inj, *_ = ctl
    p = tmp_path / "plan.yaml"
    p.write_text("rules:\n  - name: flaky\n    match: '~u /v1/'\n    fault: status code=503\n")
    tctx.command(control.cmd_load, str(p))
    assert inj.runtime_plan.rules[0].name == "flaky" and inj.runtime_plan.rules[0].seed == 7
    p.write_text("rules:\n  - match: '~u /v1/'\n    fault: status cod=503\n")
    with pytest.raises(exceptions.CommandError, match=r"rule 1 \(line 2\).*cod"):
        tctx.command(control.cmd_load, str(p))


def test_endpoint_get_lists_rules_and_stats(ctl):
    tctx, control, inj, cls, st = ctl
    tctx.command(control.cmd_set, "status code=503")
    f = call(ctl[1:], control_request("GET", "/", headers=AUTH))
    assert f.response.status_code == 200 and f.response.headers["content-type"] == "application/json"
    body = jbody(f)
    assert body["rules"][0]["fault"] == "status code=503" and body["seed"] == 7 and "codes" in body["stats"]
    # the control request itself is never faulted
    assert "fault" not in f.metadata
    assert jbody(call(ctl[1:], control_request("GET", "/rules", headers=AUTH)))["rules"][0]["source"] == "runtime"
    assert call(ctl[1:], control_request("GET", "/nope")).response.status_code == 404
    assert call(ctl[1:], control_request("PATCH", "/rules")).response.status_code == 405


def test_endpoint_changes_need_the_token(ctl):
    tctx, control, inj, *_ = ctl
    for headers in ({}, {"authorization": "Bearer wrong"}, {"x-fault-token": "nope"}):
        f = call(ctl[1:], control_request("POST", "/rules", b"status code=503", headers))
        assert f.response.status_code == 403, headers
        assert "token" in jbody(f)["error"]
    assert call(ctl[1:], control_request("DELETE", "/rules")).response.status_code == 403
    assert inj.runtime_plan.rules == []
    f = call(ctl[1:], control_request("POST", "/rules", b"status code=503", {"x-fault-token": TOKEN}))
    assert f.response.status_code == 200 and len(inj.runtime_plan.rules) == 1


def test_no_token_configured_means_no_change(ctl):
    tctx, control, inj, *_ = ctl
    tctx.configure(control, fault_control_token="")
    f = call(ctl[1:], control_request("POST", "/rules", b"status code=503", AUTH))
    assert f.response.status_code == 403 and "no fault_control_token" in jbody(f)["error"]


@pytest.mark.parametrize("body,ctype,needle", [
    (b"status code=99", "text/plain", "code=99"),
    (b"|~u /a|status code=503\nreset when=sometimes", "text/plain", "runtime rule 1"),
    (b"rules:\n  - fault: delay ms=-1\n", "application/yaml", "rule 1 (line 2)"),
    (b"{not json", "application/json", "invalid JSON"),
    (b'{"faults": "status code=503"}', "application/json", "expected"),
    (b'{"fautls": []}', "application/json", "fautls"),
    (b"", "text/plain", "empty body"),
    (b"seed: 1\nrules: 3\n", "", "'rules' must be a list"),
])
def test_endpoint_malformed_is_400_naming_the_problem(ctl, body, ctype, needle):
    tctx, control, inj, *_ = ctl
    tctx.command(control.cmd_set, "status code=500")
    f = call(ctl[1:], control_request("POST", "/rules", body, {**AUTH, "content-type": ctype}))
    assert f.response.status_code == 400
    assert needle in jbody(f)["error"], jbody(f)
    assert [r.spec.text for r in inj.runtime_plan.rules] == ["status code=500"]  # unchanged


def test_endpoint_set_forms_and_append_and_clear(ctl):
    tctx, control, inj, *_ = ctl
    post = lambda body, ctype="text/plain", path="/rules": call(
        ctl[1:], control_request("POST", path, body, {**AUTH, "content-type": ctype}))
    assert post(b"# comment\n|~u /a|status code=503\n\nstatus code=404\n").response.status_code == 200
    assert [r.spec.text for r in inj.runtime_plan.rules] == ["status code=503", "status code=404"]
    post(b'{"faults": ["hang ms=10"]}', "application/json", "/rules?append=1")
    assert len(inj.runtime_plan.rules) == 3
    post(json.dumps({"plan": "seed: 3\nrules:\n  - name: x\n    fault: status code=502\n"}).encode(), "application/json")
    assert [(r.name, r.seed) for r in inj.runtime_plan.rules] == [("x", 3)]
    post(b"rules:\n  - fault: status code=418\n", "application/yaml")
    assert inj.runtime_plan.rules[0].seed == 7  # no seed in the plan: the fault_seed option
    assert post(b"", path="/clear").response.status_code == 200 and inj.runtime_plan.rules == []


def test_endpoint_off_by_default_proxies_the_control_host_like_any_other():
    inj = FaultInjector()
    control = FaultControl(inj)
    with taddons.context(control, inj):
        f = control_request("GET", "/")
        control.requestheaders(f)
        control.request(f)
        assert f.response is None and "fault_control" not in f.metadata  # traffic, as any host


def test_other_hosts_untouched(ctl):
    f = control_request("GET", "/", host="example.com")
    ctl[1].request(f)
    assert f.response is None


def test_runtime_rules_are_deterministic_with_a_seed(ctl):
    tctx, control, inj, cls, st = ctl

    def run(order_noise: int):
        # earlier, unrelated runtime changes must not shift the draws
        for _ in range(order_noise):
            tctx.command(control.cmd_set, "status code=500 probability=0.5")
            f = tflow.tflow()
            call(ctl[1:], f)
        tctx.command(control.cmd_set, "|~u /x|status code=503 probability=0.3")
        out = []
        for i in range(40):
            f = tflow.tflow()
            f.request.path = f"/x/{i}"
            call(ctl[1:], f)
            out.append(f.response.status_code)
        return out

    a, b = run(0), run(5)
    assert a == b and 503 in a and 200 in a


def test_status_line_and_summary(ctl):
    tctx, control, inj, cls, st = ctl
    tctx.configure(st, fault_status=True)
    tctx.command(control.cmd_set, "|~u /api|status code=503")
    for path in ("/api/1", "/api/2", "/other"):
        f = tflow.tflow()
        f.request.path = path
        call(ctl[1:], f)
    st.tick(force=True)
    out = st.stream.getvalue()
    assert "3 flows, 2 faulted | k6 codes: 1503 x2, 0 x1" in out
    assert out.count("\n") <= 2  # rate-limited: not one line per flow
    s = st.summary()
    assert "by rule" in s and "status code=503" in s and "(no fault)" in s and "1503" in s
    tctx.master.should_exit.set()  # the summary and the HAR are the exit's (a script reload's done: none)
    st.done()
    assert "fault summary: 3 flows, 2 faulted" in st.stream.getvalue()


def test_status_line_off(ctl):
    tctx, control, inj, cls, st = ctl
    tctx.configure(st, fault_status=False, fault_summary=False)
    call(ctl[1:], tflow.tflow())
    st.tick(force=True)
    tctx.master.should_exit.set()  # the summary and the HAR are the exit's (a script reload's done: none)
    st.done()
    assert st.stream.getvalue() == ""


def test_har_carries_annotations(ctl, tmp_path):
    tctx, control, inj, cls, st = ctl
    tctx.configure(st, fault_har=str(tmp_path / "f.har"))
    tctx.command(control.cmd_set, "status code=503")
    f = call(ctl[1:], tflow.tflow())
    e = tflow.tflow(err=True)
    e.metadata["k6_error_code"] = 1000
    st.count(e)
    tctx.master.should_exit.set()  # the summary and the HAR are the exit's (a script reload's done: none)
    st.done()
    har = json.loads((tmp_path / "f.har").read_text())
    entry = har["log"]["entries"][0]
    assert entry["_k6_error_code"] == 1503 and entry["_fault"] == "status code=503"
    assert entry["comment"] == f.comment and "1503" in entry["comment"]
    assert len(har["log"]["entries"]) == 2 and har_dict([f])["log"]["entries"][0]["_marked"]


def test_t0_endpoint_and_command(ctl, monkeypatch):
    from faults import gates

    monkeypatch.setattr(gates.clock, "t0", None)
    monkeypatch.setattr(gates.clock, "path", None)
    tctx, control, inj, cls, st = ctl
    addons = (control, inj, cls, st)
    auth = {"authorization": f"Bearer {TOKEN}"}
    f = call(addons, control_request("GET", "/t0", headers=auth))
    assert jbody(f) == {"t0": None, "t": None}
    monkeypatch.setattr(changes, "time", SimpleNamespace(time=lambda: 1000.0))  # now, held still
    f = call(addons, control_request("POST", "/t0?t=5", headers=auth))
    assert f.response.status_code == 200 and jbody(f)["t0"] == gates.clock.t0 == 995.0
    f = call(addons, control_request("POST", "/t0?t=soon", headers=auth))
    assert f.response.status_code == 400 and "expected SECONDS" in jbody(f)["error"]
    f = call(addons, control_request("POST", "/t0", headers={}))
    assert f.response.status_code == 403
    call(addons, control_request("DELETE", "/t0", headers=auth))
    assert gates.clock.t0 is None
    assert json.loads(control.cmd_t0("2")) == {"t0": 998.0} and gates.clock.t0 == 998.0
    control.cmd_t0("next")
    assert gates.clock.t0 is None
    with pytest.raises(exceptions.CommandError, match="SECONDS from 0"):
        control.cmd_t0("-1")
    control.apply_change({"op": "t0", "t0": 123.0})  # from a sibling worker
    assert gates.clock.t0 == 123.0


def test_stats_and_list_count_what_max_active_let_pass(ctl):
    tctx, control, inj, cls, st = ctl
    control.cmd_set("|~u /m|delay ms=1 max_active=1")
    rule = inj.rules[0]
    assert rule.select(_flow("/m")) and not rule.select(_flow("/m"))
    (row,) = json.loads(control.cmd_stats())["rules"]
    assert row["active"] == 1 and row["over_max_active"] == 1
    assert control.cmd_list()[0].endswith("(matched 2, applied 1, over max_active 1)")


def _flow(path):
    f = tflow.tflow()
    f.request.path = path
    return f
