"""What a control request carries (faults/addons/control/body.py): every body form gives
the same rules and the source a change message repeats to sibling workers."""

import json

import pytest
from mitmproxy.test import tutils

from faults.addons.control.body import appends, looks_like_yaml_plan, parse_body, query
from faults.spec import SpecError

SPEC = "|~u /a|status code=503"


def req(body: str, ctype: str = "", path: str = "/rules"):
    r = tutils.treq(method=b"POST", path=path.encode(), content=body.encode())
    if ctype:
        r.headers["content-type"] = ctype
    return r


@pytest.mark.parametrize("body, ctype, source", [
    (f"{SPEC}\n# a comment\n\n", "text/plain", {"specs": [SPEC]}),
    (json.dumps({"faults": [SPEC]}), "application/json", {"specs": [SPEC]}),
    (json.dumps([SPEC]), "application/json; charset=utf-8", {"specs": [SPEC]}),
    (json.dumps({"plan": "rules:\n  - {match: '~u /a', fault: status code=503}\n"}), "application/json",
     {"yaml": "rules:\n  - {match: '~u /a', fault: status code=503}\n"}),
    ("rules:\n  - {match: '~u /a', fault: status code=503}\n", "", {"yaml": "rules:\n  - {match: '~u /a', "
                                                                    "fault: status code=503}\n"}),
])
def test_every_body_form_gives_the_rules_and_their_source(body, ctype, source):
    got, rules = parse_body(req(body, ctype))
    assert got == source and [r.spec.text for r in rules] == ["status code=503"]


@pytest.mark.parametrize("body, ctype, needle", [
    ("", "text/plain", "empty body"),
    ('{"rules": []}', "application/json", "unknown key(s) 'rules'"),
    ('{"plan": 1}', "application/json", "'plan' must be the YAML plan as a string"),
    ("[1]", "application/json", "or a list of strings"),
])
def test_a_bad_body_names_the_problem(body, ctype, needle):
    with pytest.raises(SpecError) as e:
        parse_body(req(body, ctype))
    assert needle in str(e.value)


def test_the_query_and_append():
    q = query(req("", path="/rules?append=0&append=YES&x=1"))
    assert q == {"append": "YES", "x": "1"} and appends(q) and not appends({}) and not appends({"append": "no"})
    assert looks_like_yaml_plan("  seed: 1") and not looks_like_yaml_plan("|~u /a|status code=503")
