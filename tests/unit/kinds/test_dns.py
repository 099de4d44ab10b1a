"""DNS faults without a network: the grammar, the addon's per-lookup decisions (a
lookup's A and AAAA share one; unselected names never see a fault), and the
classification of every answer."""

import asyncio

import pytest
from mitmproxy import dns
from mitmproxy.test import taddons, tflow

from faults import spec as specmod
from faults.addons import dns as dnsaddon
from faults.classify import classify_query
from faults.errors import SpecError
from faults.plan import rule_from_header, rule_from_option
from faults.wire import sockets


class Classifier:
    def __init__(self):
        self.records = []

    def connection_record(self, rec):
        self.records.append(rec)


@pytest.mark.parametrize("text,error", [
    ("dns", "needs one of rcode=, answer=, delay_ms="),
    ("dns answer=somewhere", "expected empty, drop or an IP address"),
    ("dns rcode=servfail answer=empty", "exclude each other"),
    ("dns rcode=bogus", "expected one of"),
    ("refuse address=10.1.1.1", "loopback alias"),
    ("blackhole port=70000", "must be <="),
])
def test_bad_specs_are_one_line_errors(text, error):
    with pytest.raises(SpecError, match=error):
        specmod.parse(text)


def test_x_fault_header_refuses_dns_kinds():
    for text in ("dns rcode=nxdomain", "refuse", "blackhole"):
        with pytest.raises(SpecError, match="the DNS query"):
            rule_from_header(text)


def _query(name: str, qtype: int, peer=("127.0.0.1", 5000)):
    f = tflow.tdnsflow()
    q = f.request.questions[0]
    q.name, q.type = name, qtype
    f.client_conn.peername = peer
    f.client_conn.sockname = ("127.0.0.153", 53)
    return f


def _run(rules, queries, monkeypatch):
    sink = Classifier()
    addon = dnsaddon.DnsFaults(classifier=sink)
    monkeypatch.setattr(addon, "_rules", lambda: rules)
    monkeypatch.setattr(sockets, "http_listen_address", lambda: ("127.0.0.1", 8080))
    monkeypatch.setattr(dnsaddon, "DROP_HOLD_S", 0)
    flows = []
    with taddons.context(addon, sink):
        for name, qtype in queries:
            f = _query(name, qtype)
            asyncio.run(addon.dns_request(f))
            addon.dns_response(f)
            flows.append(f)
    return flows, sink.records


def test_a_lookup_shares_one_decision_and_other_names_are_untouched(monkeypatch):
    rule = rule_from_option("|~d ^gone\\.|dns rcode=nxdomain first=1", 0)
    flows, recs = _run([rule], [("gone.test", dns.types.A), ("gone.test", dns.types.AAAA),
                                ("ok.test", dns.types.A), ("ok.test", dns.types.AAAA)], monkeypatch)
    assert [f.response.response_code for f in flows[:2]] == [3, 3]  # first: 1 covers the whole lookup
    assert rule.matched == 1
    assert [r["k6_error_code"] for r in recs[:2]] == [1101, 1101]
    ok_a, ok_aaaa = flows[2:]
    assert [str(a.ipv4_address) for a in ok_a.response.answers] == ["127.0.0.1"]
    assert ok_aaaa.response.answers == [] and ok_aaaa.response.response_code == 0
    assert all(r["fault"] is None and r["k6_error_code"] == 0 for r in recs[2:])


@pytest.mark.parametrize("spec,code,error", [
    ("dns rcode=servfail", 1100, "lookup x.test on 127.0.0.153:53: server misbehaving"),
    ("dns rcode=refused", 1100, "lookup x.test on 127.0.0.153:53: server misbehaving"),
    ("dns answer=empty", 1101, "lookup: no such host"),
    ("dns answer=drop", 1050, "request timeout"),
    ("refuse", 1212, "dial: connection refused"),
])
def test_each_fault_is_recorded_with_what_k6_reports(spec, code, error, monkeypatch):
    rule = rule_from_option(f"|~d ^x\\.|{spec}", 0)
    _, recs = _run([rule], [("x.test", dns.types.A), ("x.test", dns.types.AAAA)], monkeypatch)
    assert [(r["record"], r["k6_error_code"], r["k6_error"]) for r in recs] == [("dns", code, error)] * 2


def test_blackhole_is_1211_naming_1050():
    c = classify_query(kind="blackhole", name="b.test", qtype="A", server="127.0.0.153:53", rcode=0,
                       addresses=["127.66.0.2"], blackholed=True)
    assert (c.k6.error, c.k6.message) == (1211, "dial: i/o timeout")
    assert {"error": 1050, "message": "request timeout"} in c.k6.alt
    assert c.clients["curl"].error == 28 and c.clients["httpx"].error == "ConnectTimeout"
