"""The control endpoint (faults/addons/control/) under hostile input: the number
corpus in text, JSON and YAML bodies is a 400 naming the key (never a 500); a
refused request is answered at its head and its body marked to be dropped unread;
a big rule set is parsed off the event loop and applied in one step; with the
endpoint off its host is proxied like any other."""

import asyncio
import json

import pytest
from mitmproxy.test import taddons

from faults import vocabulary
from faults.addons.control import endpoint as controlmod
from faults.addons.control import FaultControl
from faults.addons.injector import FaultInjector
from tests.unit.addons.control.test_endpoint import req as control_request
from tests.unit.hostile import HUGE, RULE_FIELDS, rule_field, specs

TOKEN = "s3cret"
AUTH = {"authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def ctl():
    inj = FaultInjector()
    control = FaultControl(inj)
    with taddons.context(control, inj) as tctx:
        tctx.configure(control, fault_control=True, fault_control_token=TOKEN)
        yield tctx, control, inj


def req(method="POST", path="/rules", **kw):
    return control_request(method, path, **kw)


def send(control, f):
    """requestheaders then request, as mitmproxy calls them (awaiting an async answer)."""
    control.requestheaders(f)
    pending = control.request(f)
    if pending is not None:
        asyncio.run(pending)
    return f.response.status_code, json.loads(f.response.content)


def bodies(text: str):
    yield "text/plain", text.encode()
    yield "application/json", json.dumps({"faults": [text]}).encode()
    yield "application/yaml", f'rules:\n  - fault: "{text}"\n'.encode()


@pytest.mark.parametrize("key, value, text", specs())
def test_corpus_in_every_body_form_is_400_naming_the_key(ctl, key, value, text):
    _, control, inj = ctl
    for ctype, body in bodies(text):
        if ctype == "application/yaml" and key in RULE_FIELDS:
            body = f"rules:\n  - fault: hang\n    {key}: {rule_field(key, text)}\n".encode()  # a rule field
        status, out = send(control, req(body=body, headers={**AUTH, "content-type": ctype}))
        assert status == 400, (ctype, out)
        msg = out["error"]
        assert "\n" not in msg and len(msg) < 400 and (f"{key}=" in msg or "invalid YAML" in msg), (ctype, msg)
    assert inj.runtime_plan.rules == []


@pytest.mark.parametrize("value", [HUGE, "9" * 40, "1e400"])
def test_huge_json_numbers_are_400_not_500(ctl, value):
    _, control, _ = ctl
    for doc in (f'{{"faults": {value}}}', f"[{value}]", f'{{"plan": {value}}}'):
        status, out = send(control, req(body=doc.encode(), headers={**AUTH, "content-type": "application/json"}))
        assert status == 400 and len(out["error"]) < 400, out


@pytest.mark.parametrize("headers, status", [({}, 403), ({"authorization": "Bearer wrong"}, 403),
                                             ({**AUTH, "content-length": str(64 << 20)}, 413)])
def test_a_refused_request_is_answered_at_its_head_and_its_body_dropped(ctl, headers, status):
    _, control, inj = ctl
    f = req(headers=headers)
    f.request.raw_content = None  # the body has not arrived: only the head is known
    control.requestheaders(f)
    assert f.response.status_code == status and f.metadata[vocabulary.DISCARD_BODY]
    assert f.metadata[vocabulary.CONTROL]
    f.request.raw_content = b""  # what the layer leaves after dropping the body
    control.request(f)  # already answered: nothing more
    assert f.response.status_code == status and inj.runtime_plan.rules == []


def test_an_accepted_request_is_not_dropped(ctl):
    _, control, inj = ctl
    f = req(body=b"status code=503", headers=AUTH)
    control.requestheaders(f)
    assert f.response is None and vocabulary.DISCARD_BODY not in f.metadata
    assert send(control, f)[0] == 200 and len(inj.runtime_plan.rules) == 1


def test_endpoint_off_leaves_its_host_to_the_proxy(ctl):
    tctx, control, _ = ctl
    tctx.configure(control, fault_control=False)
    for method, path in (("GET", "/"), ("POST", "/rules")):
        f = req(method, path, body=b"status code=503")
        control.requestheaders(f)
        control.request(f)
        assert f.response is None and vocabulary.CONTROL not in f.metadata


def test_a_big_rule_set_is_parsed_off_the_loop_and_applied_at_once(ctl, monkeypatch):
    """While the rule set is parsed (in a thread), the loop serves other requests: each
    completes before the replacement does; the new rules appear in one step. (2,000
    rules with the threshold lowered: the same path as 10,000, in a fifth of the time.)"""
    _, control, inj = ctl
    control.apply_change({"op": "set", "specs": ["status code=500"]})
    n = 2_000
    body = "\n".join(f"|~u /p{i}$|status code=503" for i in range(n)).encode()
    monkeypatch.setattr(controlmod, "OFF_LOOP_BYTES", 1024)
    threads = []
    real_parse = controlmod.parse_body

    def parse(*args):
        import threading
        threads.append(threading.current_thread() is threading.main_thread())
        return real_parse(*args)

    monkeypatch.setattr(controlmod, "parse_body", parse)

    async def scenario():
        big = req(body=body, headers=AUTH)
        control.requestheaders(big)
        task = asyncio.ensure_future(control.request(big))
        seen, served = set(), 0
        while not task.done():  # other requests meanwhile: answered at once, against whole rule sets
            f = req("GET", "/rules", headers=AUTH)
            send_sync(control, f)
            seen.add(len(json.loads(f.response.content)["rules"]))
            served += 1
            await asyncio.sleep(0.005)
        await task
        return big, seen, served

    big, seen, served = asyncio.run(scenario())
    assert threads == [False]  # parsed in a worker thread
    assert big.response.status_code == 200 and len(inj.runtime_plan.rules) == n
    assert served >= 2 and seen <= {1, n}, (served, seen)  # old or new, never a part


def send_sync(control, f):
    control.requestheaders(f)
    assert control.request(f) is None
