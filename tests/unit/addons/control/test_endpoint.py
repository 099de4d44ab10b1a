"""The control endpoint under hostile input: no 500 for any value, reads need the
token when one is set, and a control request (with its token) never goes upstream."""

import asyncio
import gzip
import json

import pytest
from mitmproxy.test import taddons, tflow

from faults import plan
from faults.addons.annotate import Classifier
from faults.addons.control import FaultControl
from faults.addons.injector import FaultInjector

TOKEN = "s3cret"
AUTH = {"authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def ctl():
    inj, cls = FaultInjector(), Classifier()
    control = FaultControl(inj, cls)
    with taddons.context(control, inj, cls) as tctx:
        tctx.configure(control, fault_control=True, fault_control_token=TOKEN)
        yield tctx, control, inj


def req(method="GET", path="/", body=b"", headers=None, raw_headers=(), host="faults.control"):
    f = tflow.tflow()
    f.request.method, f.request.host, f.request.path = method, host, path
    f.request.headers.pop("Host", None)
    f.request.raw_content = body
    for k, v in (headers or {}).items():
        f.request.headers[k] = v
    f.request.headers.fields = f.request.headers.fields + tuple(raw_headers)
    return f


def answer(control, f):
    pending = control.request(f)
    if pending is not None:  # a big body: parsed in a thread
        asyncio.run(pending)
    return f.response.status_code, (json.loads(f.response.content) if f.response else None)


@pytest.mark.parametrize("raw", [
    (b"x-fault-token", b"\xff\xfe"),
    (b"authorization", b"Bearer \xff\xfe"),
    (b"x-fault-token", "s3crét".encode()),
])
def test_non_utf8_or_odd_token_headers_are_403_not_500(ctl, raw):
    _, control, _ = ctl
    for method in ("GET", "POST"):
        status, body = answer(control, req(method, "/rules", b"status code=503", raw_headers=[raw]))
        assert status == 403 and "token" in body["error"]


@pytest.mark.parametrize("body, ctype, needle", [
    (b"[" * 100_000, "application/json", "nested too deeply"),
    (b'{"faults": [null]}', "application/json", "expected"),
    (b'"status code=503"', "application/json", "expected"),
    (b'[1, 2]', "application/json", "expected"),
    (b'{"plan": 5}', "application/json", "'plan' must be"),
    (json.dumps({"plan": "a: &x [1]\nrules:\n  - fault: hang\n    name: *x\n"}).encode(), "application/json", "alias"),
    (b"rules:\n  - fault: {kind: delay, ms: .inf}\n", "application/yaml", "ms=inf"),
    (b"rules:\n  - fault: {kind: status, code: 503, body: [1]}\n", "application/yaml", "got a list"),
    (b"rules:\n  - fault: hang\n    match: '~e'\n", "application/yaml", "a flow with an error"),
    (b"\xff\xfe\x00status", "text/plain", "not UTF-8"),
    (b"status code=503 body=" + b"x" * 10_000, "text/plain", "the limit is 8192"),
])
def test_bad_bodies_are_400_naming_the_problem(ctl, body, ctype, needle):
    _, control, inj = ctl
    status, out = answer(control, req("POST", "/rules", body, {**AUTH, "content-type": ctype}))
    assert status == 400 and needle in out["error"], out
    assert inj.runtime_plan.rules == []


def test_compressed_and_oversized_bodies_are_refused(ctl, monkeypatch):
    _, control, _ = ctl
    status, out = answer(control, req("POST", "/rules", gzip.compress(b"status code=503"),
                                      {**AUTH, "content-encoding": "gzip"}))
    assert status == 400 and "compressed" in out["error"]
    monkeypatch.setattr(plan.limits, "MAX_PLAN_BYTES", 10)
    status, out = answer(control, req("POST", "/rules", b"status code=503", AUTH))
    assert status == 400 and "larger than" in out["error"]


def test_reads_need_the_token_when_one_is_set(ctl):
    tctx, control, _ = ctl
    for path in ("/", "/rules", "/stats"):
        status, out = answer(control, req("GET", path))
        assert status == 403 and "token" in out["error"]
        assert answer(control, req("GET", path, headers={"x-fault-token": TOKEN}))[0] == 200
    tctx.configure(control, fault_control_token="")  # no token: reads open, changes refused
    status, out = answer(control, req("GET", "/"))
    assert status == 200 and "seed" in out
    assert answer(control, req("POST", "/rules", b"status code=503"))[0] == 403


def test_a_token_bearing_request_for_another_host_is_never_forwarded(ctl):
    """Reverse mode without keep_host_header: mitmproxy rewrote Host to the upstream's
    before any hook, so the request looks like traffic; its token must not leave."""
    _, control, inj = ctl
    for headers in (AUTH, {"x-fault-token": TOKEN}):
        f = req("POST", "/rules", b"status code=503", headers, host="upstream.test")
        status, out = answer(control, f)
        assert status == 421 and "not forwarded" in out["error"]
        assert f.metadata["fault_control"]
    assert inj.runtime_plan.rules == []


def test_our_token_header_is_stripped_from_forwarded_traffic(ctl):
    _, control, _ = ctl
    f = req("GET", "/x", headers={"x-fault-token": "not-the-token", "authorization": "Bearer user-auth"},
            host="upstream.test")
    control.request(f)
    assert f.response is None and "x-fault-token" not in f.request.headers
    assert f.request.headers["authorization"] == "Bearer user-auth"  # the user's own auth is theirs


def test_control_host_is_proxied_when_the_endpoint_is_off_but_the_token_never(ctl):
    tctx, control, _ = ctl
    tctx.configure(control, fault_control=False)
    f = req("POST", "/rules", b"status code=503")
    control.request(f)
    assert f.response is None  # an ordinary host
    f = req("POST", "/rules", b"status code=503", AUTH)
    status, out = answer(control, f)
    assert status == 421 and "fault_control=true" in out["error"]  # the token does not leave


def test_load_command_refuses_a_binary_file_with_one_line(ctl, tmp_path):
    from mitmproxy import exceptions
    tctx, control, inj = ctl
    p = tmp_path / "plan.yaml"
    p.write_bytes(b"rules:\n  - fault: status code=503 body=\xff\n")
    with pytest.raises(exceptions.CommandError, match="not UTF-8"):
        tctx.command(control.cmd_load, str(p))
    with pytest.raises(exceptions.CommandError, match="cannot read fault plan"):
        tctx.command(control.cmd_load, str(tmp_path))
    assert inj.runtime_plan.rules == []


def test_a_huge_line_is_not_echoed_back_whole(ctl):
    _, control, _ = ctl
    status, out = answer(control, req("POST", "/rules", b"|~u /a|nokind " + b"x" * 1_000_000, AUTH))
    assert status == 400 and len(out["error"]) < 1000 and "characters" in out["error"]


def test_no_500_for_random_requests(ctl):
    """Random methods, paths, headers and bodies: every answer is a 2xx/4xx, never a 500."""
    import random
    _, control, _ = ctl
    rnd = random.Random(12)
    pieces = [b"status code=503", b"|~u /a|", b"rules:\n  - ", b"fault: ", b"{", b"}", b"[", b"]", b'"faults"',
              b":", b",", b"\xff", b"\x00", b"&x", b"*x", b"~s", b"probability=", b".nan", b"\n", b"'", b"plan"]
    for _ in range(300):
        body = b"".join(rnd.choice(pieces) for _ in range(rnd.randrange(0, 12)))
        headers = {**rnd.choice([{}, AUTH]),
                   "content-type": rnd.choice(["", "application/json", "application/yaml", "text/plain"])}
        raw = [(b"x-fault-token", bytes(rnd.randrange(256) for _ in range(rnd.randrange(4))))] if rnd.random() < .3 else []
        f = req(rnd.choice(["GET", "POST", "PUT", "DELETE", "PATCH"]),
                rnd.choice(["/", "/rules", "/rules?append=1", "/stats", "/clear", "/%ff", "/rules?append=\xff"]),
                body, headers, raw)
        status, _ = answer(control, f)
        assert status < 500, (f.request.method, f.request.path, body)


def test_the_endpoint_follows_its_options_as_they_change(ctl):
    """Its options are copied when they change (no ctx.options read per request): a new
    host, token or off takes effect on the next request."""
    tctx, control, _ = ctl
    assert answer(control, req("GET", "/rules", headers=AUTH))[0] == 200
    tctx.options.update(fault_control_host="ctl.test", fault_control_token="other")
    assert control.request(req("GET", "/rules", headers=AUTH)) is None  # faults.control: traffic now
    f = req("GET", "/rules", headers=AUTH, host="ctl.test")
    assert answer(control, f)[0] == 403  # the old token no longer opens it
    assert answer(control, req("GET", "/rules", headers={"authorization": "Bearer other"}, host="ctl.test"))[0] == 200
    tctx.options.update(fault_control=False)
    f = req("GET", "/rules", headers={"authorization": "Bearer other"}, host="ctl.test")
    assert answer(control, f)[0] == 421  # off: its token is not forwarded upstream either
