"""The one number parser (faults/numbers.py) and the guard that feeds the hostile
corpus (tests/unit/hostile.py) to every entry point that reads a number: the plan
file, the faults option (at start and at runtime, mitmweb's options API), the
faults.set command, /expect's query, the Toxiproxy API. Each must refuse with one
line naming the key; none may raise anything but the one error type.
(The control endpoint's bodies: tests/unit/addons/control/; over real
sockets: tests/e2e/test_hostile_inputs.py.)"""

import asyncio
import json
import logging

import pytest
from mitmproxy import exceptions
from mitmproxy.test import taddons

from faults import expect, numbers, plan
from faults.addons.control import FaultControl
from faults.addons.injector import FaultInjector
from faults.errors import SpecError
from faults.toxiproxy.api import Api, Backend
from tests.unit.hostile import HUGE, NUMBERS, RULE_FIELDS, specs


def one_line(msg: str, key: str) -> None:
    assert "\n" not in msg and len(msg) < 400, msg
    assert f"{key}=" in msg, msg
    assert "Traceback" not in msg and "ValueError" not in msg, msg


# -- the parser's rules ---------------------------------------------------------------

@pytest.mark.parametrize("text, want", [("0", 0), ("42", 42), (" 7 ", 7), ("+3", 3), (12, 12)])
def test_whole_numbers_in_ascii_digits(text, want):
    assert numbers.whole(text, "k") == want


@pytest.mark.parametrize("text, want", [("0.5", 0.5), (".5", 0.5), ("1e-3", 0.001), ("1", 1.0), (2, 2.0)])
def test_numbers_with_fraction_or_exponent(text, want):
    assert numbers.real(text, "k") == want


@pytest.mark.parametrize("value", NUMBERS + [True, 1.5, None, [1], {"a": 1}])
def test_every_corpus_value_is_refused_as_a_whole_number(value):
    with pytest.raises(SpecError) as e:
        numbers.whole(value, "every", 1)
    one_line(str(e.value), "every")


def test_the_reasons_name_the_rule():
    with pytest.raises(SpecError, match=r"every='²': expected a whole number >= 1 \(ASCII digits 0-9\)"):
        numbers.whole("²", "every", 1)
    with pytest.raises(SpecError, match=r"a number is at most 32 characters"):
        numbers.whole(HUGE, "ms")
    with pytest.raises(SpecError, match=r"\(5000 characters\)"):  # named by its start and length, not echoed
        numbers.whole(HUGE, "ms")
    with pytest.raises(SpecError, match=r"code=1000: must be <= 599"):
        numbers.whole("1000", "code", 100, 599)
    with pytest.raises(SpecError, match=r"p='1e400': expected a finite number"):
        numbers.real("1e400", "p")


def test_json_and_yaml_integers_are_bounded_before_int():
    doc = numbers.json_loads('{"a": %s, "b": 7}' % HUGE)
    assert isinstance(doc["a"], numbers.HugeNumber) and doc["b"] == 7
    with pytest.raises(SpecError, match=r"p.yaml: rule 1 \(line 2\): every='1111.*\(5000 characters\): a number is at most 32"):
        plan.load_yaml(f"rules:\n  - fault: hang\n    every: {HUGE}\n", "p.yaml")
    # not decimal: the text stays text (a text field keeps it; a number field refuses it)
    rule = plan.load_yaml("rules:\n  - fault: {kind: status, code: 503, body: 0x10}\n", "p").rules[0]
    assert rule.spec.params["body"] == "0x10"
    with pytest.raises(SpecError, match=r"code='0x1F7': expected a whole number"):
        plan.load_yaml("rules:\n  - fault: {kind: status, code: 0x1F7}\n", "p")


def test_a_peer_content_length_is_never_an_exception():
    assert [numbers.header_length(v) for v in ("12", " 3 ", "²", "٣", HUGE, "-1", "", None)] == \
        [12, 3, None, None, None, None, None, None]


# -- the guard: the corpus through every entry point -------------------------------------

@pytest.mark.parametrize("key, value, text", specs())
def test_corpus_through_the_option_form_and_the_plan_file(key, value, text):
    with pytest.raises(SpecError) as e:
        plan.rule_from_option(text, 0)
    one_line(str(e.value), key)
    assert "faults option entry 0" in str(e.value)  # which rule
    if key in RULE_FIELDS:  # rule fields in a plan: bare scalars, below
        return
    with pytest.raises(SpecError) as e:
        plan.load_yaml(f'rules:\n  - fault: "{text}"\n', "p.yaml")
    one_line(str(e.value), key)
    assert "p.yaml: rule 1 (line 2)" in str(e.value)


@pytest.mark.parametrize("value", NUMBERS)
def test_corpus_as_bare_yaml_scalars(value):
    for key, doc in (("every", f"rules:\n  - fault: hang\n    every: {value}\n"),
                     ("ms", f"rules:\n  - fault: {{kind: delay, ms: {value}}}\n"),
                     ("probability", f"rules:\n  - fault: hang\n    probability: {value}\n")):
        with pytest.raises(SpecError) as e:
            plan.load_yaml(doc, "p.yaml")
        msg = str(e.value)
        assert "\n" not in msg and len(msg) < 400 and msg.startswith("p.yaml"), msg
        assert f"{key}=" in msg or "invalid YAML" in msg, msg


@pytest.fixture
def running():
    """The injector and control addons, running (so a change is refused, not logged)."""
    inj = FaultInjector()
    control = FaultControl(inj)

    async def scenario(body):
        with taddons.context(control, inj) as tctx:
            inj.running()
            try:
                body(tctx, control, inj)
            finally:
                await inj.done()

    return lambda body: asyncio.run(scenario(body))


def test_corpus_through_the_runtime_option_the_options_api_and_faults_set(running):
    def body(tctx, control, inj):
        tctx.master.options.update(faults=["hang"])
        for key, value, text in specs():
            # mitmweb's PUT /options calls options.update: the change must be refused
            # (400 there), the option left as it was, no traceback logged
            with pytest.raises(exceptions.OptionsError) as e:
                tctx.master.options.update(faults=[text])
            one_line(str(e.value), key)
            assert tctx.master.options.faults == ["hang"] and len(inj.option_plan.rules) == 1
            with pytest.raises(exceptions.CommandError) as e:
                tctx.command(control.cmd_set, "hang", text)
            one_line(str(e.value), key)
            assert "runtime rule 1" in str(e.value)  # which rule
        assert inj.runtime_plan.rules == []
    running(body)


def test_corpus_through_the_option_at_start_is_one_logged_line(caplog):
    inj = FaultInjector()

    async def scenario():
        with taddons.context(inj) as tctx:
            for key, value, text in specs()[::3]:
                caplog.clear()
                with caplog.at_level(logging.ERROR):
                    tctx.configure(inj, faults=[text])  # not running: logged, mitmdump exits 1
                lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
                assert len(lines) == 1 and lines[0].startswith("faults: faults option entry 0"), lines
                one_line(lines[0], key)
                assert not any(r.exc_info for r in caplog.records)

    asyncio.run(scenario())


@pytest.mark.parametrize("value", NUMBERS)
def test_corpus_through_expect_query(value):
    for key in ("code", "count", "timeout"):
        with pytest.raises(ValueError) as e:
            expect.from_query({key: value})
        one_line(str(e.value), key)


class _Backend(Backend):
    async def start(self, proxy):
        return "127.0.0.1:1"

    async def stop(self, proxy):
        pass


@pytest.mark.parametrize("value", NUMBERS)
def test_corpus_through_the_toxiproxy_api_is_400_never_500(value):
    api = Api(_Backend())

    async def scenario():
        st, _, _ = await api.handle("POST", "/proxies", {}, b'{"name":"p","upstream":"127.0.0.1:1"}')
        assert st == 201
        bodies = [json.dumps({"type": "http", "attributes": {"spec": t}}).encode() for _, _, t in specs()
                  if value in t][:5]
        raw = value if value.isascii() and value.strip() else json.dumps(value)
        bodies += [b'{"type":"latency","attributes":{"latency":%s}}' % raw.encode(),
                   b'{"type":"latency","toxicity":%s}' % raw.encode()]
        for body in bodies:
            status, _, out = await api.handle("POST", "/proxies/p/toxics", {}, body)
            assert status == 400, (body[:80], out)
            assert b"\n" not in out.rstrip(b"\n") and len(out) < 600, out
        st, _, out = await api.handle("POST", "/proxies", {}, json.dumps(
            {"name": "q", "upstream": f"127.0.0.1:{value}"}).encode())
        assert st == 201 or st == 400, out  # the fake backend does not dial; e2e checks the real one

    asyncio.run(scenario())
