"""The host index (faults/plan/host_index.py): same selections and counters as running every
filter, without running the filters of rules that cannot match the host."""

import random

import pytest
from mitmproxy import flowfilter
from mitmproxy.test import tflow

from faults import plan
from faults.plan import limits
from faults.spec import parse


def flow(host="a.test", path="/v1/x", method="GET", host_header=None):
    f = tflow.tflow()
    f.request.host = host
    f.request.path = path
    f.request.method = method
    if host_header is not None:
        f.request.headers["Host"] = host_header
    else:
        f.request.headers.pop("Host", None)
    return f


def rule(match, fault="status code=503", **kw):
    return plan.Rule(spec=parse(fault)[0], match=match, **kw)


def naive_select(rules, f):
    """The selection as it was before the index: every filter runs."""
    for r in rules:
        if not flowfilter.parse(r.match)(f) if r.match else False:
            continue
        r.matched += 1
        if r.first is not None and r.matched > r.first:
            continue
        if r.every is not None and r.matched % r.every:
            continue
        if r.probability is not None and r.rng.random() >= r.probability:
            continue
        r.applied += 1
        return r
    return None


@pytest.mark.parametrize("text, gated, exact", [
    ("~d a.test", 1, True),
    ("~d a.test & ~u /v1/", 1, False),
    ("~d a & (~m GET & ~d b)", 2, False),
    ("~d a ~u b", 1, False),
    ("!~d a", 0, False),
    ("~d a | ~d b", 0, False),
    ("~u /v1/", 0, False),
])
def test_domain_gate_only_from_conjuncts(text, gated, exact):
    r = rule(text)
    assert len(r.gate or ()) == gated
    assert r._exact is exact


MATCHES = ["~d a.test", "~d b.test & ~u /v1/", "~u /v2/", "!~d a.test", "~d a.test | ~m POST",
           "~d '(a|c).test' & ~m GET", "~d A.TEST", "~d b.test", None, "~d a.test & ~u /v2/"]
FLOWS = [dict(host=h, path=p, method=m, host_header=hh)
         for h in ("a.test", "b.test", "c.test", "10.0.0.1") for p in ("/v1/x", "/v2/y")
         for m in ("GET", "POST") for hh in (None, "b.test", "a.test:8443")]


@pytest.mark.parametrize("seed", range(5))
def test_same_choices_and_counters_as_running_every_filter(seed):
    rnd = random.Random(seed)

    def rules():
        out = []
        for i in range(12):
            m = MATCHES[rnd.randrange(len(MATCHES))]
            sel = rnd.choice([{}, {"probability": 0.5}, {"first": 2}, {"every": 3}])
            out.append(rule(m, name=f"r{i}", seed=seed, **sel))
        return out

    state = rnd.getstate()
    indexed = plan.Plan(rules(), seed)
    rnd.setstate(state)
    reference = rules()
    for _ in range(300):
        kw = rnd.choice(FLOWS)
        got = indexed.select(flow(**kw))
        want = naive_select(reference, flow(**kw))
        assert (got and got.name) == (want and want.name), kw
    assert [(r.matched, r.applied) for r in indexed.rules] == [(r.matched, r.applied) for r in reference]


def test_rule_select_skips_filter_for_other_hosts():
    r = rule("~d a.test & ~u /v1/")
    calls = []
    url_filter = r.filter.lst[1]
    r.filter.lst[1] = lambda f: calls.append(f) or url_filter(f)
    assert not r.select(flow(host="b.test"))
    assert calls == [] and r.matched == 0
    assert r.select(flow(host="a.test"))
    assert len(calls) == 1 and r.matched == 1


def test_plan_candidates_skip_rules_for_other_hosts_in_order():
    rules = [rule(f"~d host-{i}.invalid") for i in range(1000)]
    catch_all = rule("~u /v1/", name="url")
    rules.insert(500, catch_all)
    target = rule("~d a.test", name="a")
    p = plan.Plan(rules + [target])
    assert p.candidates(flow(host="a.test")) == (catch_all, target)
    assert p.candidates(flow(host="host-7.invalid")) == (rules[7], catch_all)
    assert p.select(flow(host="a.test", path="/v2/")) is target
    assert p.select(flow(host="a.test")) is catch_all  # order kept: the earlier rule wins


def test_host_and_host_header_changes_on_the_same_flow_are_seen():
    p = plan.Plan([rule("~d b.test", name="b")])
    f = flow(host="a.test")
    assert p.select(f) is None
    f.request.host = "b.test"
    assert p.select(f).name == "b"
    f.request.host = "a.test"
    assert p.select(f) is None
    f.request.headers["Host"] = "b.test:8080"  # ~d also looks at pretty_host
    assert p.select(f).name == "b"


def test_index_follows_rule_list_and_filter_changes():
    p = plan.Plan([rule("~d a.test", name="a")])
    f = flow(host="z.test")
    assert p.select(f) is None
    p.rules.append(rule("~d z.test", name="z"))
    assert p.select(f).name == "z"
    p.rules = [rule("~d a.test", name="a2")]
    assert p.select(f) is None
    p.rules[0].filter = lambda fl: True  # e.g. a test double
    assert p.select(f).name == "a2"
    p.rules[0] = rule("~d z.test", name="z2")
    p.reindex()
    assert p.select(f).name == "z2"


def test_level_filter_and_non_http_flows():
    r_http = rule("~d a.test", name="h")
    p = plan.Plan([r_http])
    assert p.candidates(flow(), level="flow") == (r_http,)
    assert p.candidates(flow(), level="connection") == ()
    assert p.select(tflow.ttcpflow()) is None  # ~d never matches a TCP flow
    assert plan.Plan([rule(None, name="all")]).select(tflow.ttcpflow()).name == "all"


def test_memos_stay_bounded(monkeypatch):
    monkeypatch.setattr(limits, "HOST_MEMO_MAX", 8)
    r = rule("~d a.test", name="a")
    p = plan.Plan([r])
    for i in range(50):
        p.select(flow(host=f"h{i}.test"))
    assert len(r._hosts) <= 8 and len(p._index) <= 8
    assert p.select(flow(host="a.test")) is r


def test_host_key_of_interleaved_flows_is_what_mitmproxy_says():
    """Flows on concurrent connections interleave their hooks: each flow's host key is
    computed from its own host, Host header, protocol and the name its client used."""
    from faults import vocabulary
    from faults.plan.host_index import host_key

    def alone(f):
        from faults.plan.filters import client_host
        return f.request.host, f.request.pretty_host, client_host(f)

    flows = [flow("a.test", host_header="x.test"), flow("a.test", host_header="y.test:8080"), flow("a.test"),
             flow("a.test", host_header="x.test"), flow("b.test", host_header="x.test")]
    flows[3].request.http_version = "HTTP/2.0"
    flows[3].request.authority = "z.test"
    setattr(flows[4].request, vocabulary.CLIENT_HOST_ATTR, "up.test:80")
    for _ in range(2):
        for f in flows + flows[::-1]:
            assert host_key(f) == alone(f)
    flows[0].request.headers["host"] = "w.test"
    assert host_key(flows[0]) == ("a.test", "w.test", "")
