"""The URL index (faults/plan/url_index.py): 10,000 `~u` path rules cost a few dict lookups per
request, with the same choices and counters as running every filter."""

import random

import pytest
from mitmproxy.test import tflow

from faults import plan
from faults.plan import url_index
from faults.spec import parse

from tests.unit.plan.test_host_index import naive_select


def flow(path="/", host="a.test", method="GET"):
    f = tflow.tflow()
    f.request.host, f.request.path, f.request.method = host, path, method
    f.request.headers.pop("Host", None)
    return f


def rule(match, name=None, **kw):
    return plan.Rule(spec=parse("status code=503")[0], match=match, name=name, **kw)


class Counting:
    """Counts Rule.select calls: rules the index skipped are never asked."""

    def __init__(self, monkeypatch):
        self.calls = 0
        real = plan.Rule.select

        def select(rule_self, f):
            self.calls += 1
            return real(rule_self, f)
        monkeypatch.setattr(plan.Rule, "select", select)


@pytest.fixture(scope="module")
def big():
    return plan.Plan([rule(f"~u /path{i}$", name=f"r{i}") for i in range(10_000)]
                     + [rule("~u /path", name="catch-all")])


def test_ten_thousand_path_rules_use_the_index(big, monkeypatch):
    counting = Counting(monkeypatch)
    before = big.url_index().lookups
    assert big.select(flow("/path9999")).name == "r9999"
    assert big.select(flow("/path0")).name == "r0"
    assert big.select(flow("/path17/more")).name == "catch-all"  # `$`: r17 does not match
    assert big.select(flow("/other")) is None
    assert big.url_index().lookups == before + 4
    assert counting.calls <= 8  # not 10,001 per request


def test_unanchored_literals_keep_regex_semantics(monkeypatch):
    p = plan.Plan([rule(f"~u /path{i}", name=f"r{i}") for i in range(1000)])
    counting = Counting(monkeypatch)
    # /path9 is a substring of /path999: the earlier rule wins, exactly as without the index
    assert p.select(flow("/path999")).name == "r9"
    assert p.select(flow("/x/PATH12")).name == "r1"  # mitmproxy's filters ignore case
    assert counting.calls <= 6


@pytest.mark.parametrize("text, lit", [
    ("~u /path12$", ("/path12", True)), ("~u ^http://a/v1", ("http://a/v1", True)),
    ("~u /x[0-9]+/orders", ("/orders", True)), ("~m GET & (~u /a/b & ~d x)", ("/a/b", True)),
    ("~u /a | ~u /b", None), ("!~u /a", None), ("~u a|b", None), ("~d x", None), ("~u .*", None),
])
def test_url_literal(text, lit):
    assert plan.url_literal(rule(text).filter) == lit


MATCHES = ["~u /path{i}", "~u /path{i}$", "~u ^http://a.test/path{i}", "~u /PATH{i}", "~u /p.th{i}",
           "~d a.test & ~u /path{i}", "~d b.test & ~u /path{i}", "~m POST & ~u /path{i}/",
           "!~u /path{i}", "~u /path{i} | ~m PUT", None, "~u /path[0-9]{i}"]
PATHS = ["/path{i}", "/path{i}/x", "/PATH{i}", "/x/path{i}?q=/path{j}", "/other", "/päth{i}", "/path{i}{j}"]


@pytest.mark.parametrize("seed", range(6))
def test_same_choices_and_counters_as_running_every_filter(seed, monkeypatch):
    monkeypatch.setattr(url_index, "URL_INDEX_MIN", 4)
    rnd = random.Random(seed)

    def rules():
        out = []
        for i in range(60):
            m = rnd.choice(MATCHES)
            sel = rnd.choice([{}, {}, {"probability": 0.5}, {"first": 2}, {"every": 3}])
            out.append(rule(m and m.format(i=rnd.randrange(12)), name=f"r{i}", seed=seed, **sel))
        return out

    state = rnd.getstate()
    indexed = plan.Plan(rules(), seed)
    rnd.setstate(state)
    reference = rules()
    assert indexed.url_index() is not None
    for _ in range(400):
        kw = dict(path=rnd.choice(PATHS).format(i=rnd.randrange(12), j=rnd.randrange(12)),
                  host=rnd.choice(["a.test", "b.test"]), method=rnd.choice(["GET", "POST", "PUT"]))
        got = indexed.select(flow(**kw))
        want = naive_select(reference, flow(**kw))
        assert (got and got.name) == (want and want.name), kw
    assert [(r.matched, r.applied) for r in indexed.rules] == [(r.matched, r.applied) for r in reference]


def test_index_follows_rule_changes():
    p = plan.Plan([rule(f"~u /path{i}$", name=f"r{i}") for i in range(100)])
    assert p.select(flow("/path5")).name == "r5"
    p.rules.insert(0, rule("~u /path5$", name="new"))
    assert p.select(flow("/path5")).name == "new"
    p.rules = [rule(f"~u /q{i}$", name=f"q{i}") for i in range(100)]
    assert p.select(flow("/path5")) is None and p.select(flow("/q7")).name == "q7"
