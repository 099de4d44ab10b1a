"""DNS faults through mitmproxy's DNS mode, with the real k6 resolving through it
(its own resolv.conf in a private mount namespace): k6's error_code and error must
equal what the report says for every query of the name."""

from collections import Counter

import pytest

from faults.tools import k6run

from .dns_support import dns_proxy, resolv_conf
from .waiting import wait_for_records

# label -> rule (None: no rule, the proxy's own answer)
RULES = {
    "nx": "dns rcode=nxdomain",
    "servfail": "dns rcode=servfail",
    "refused": "dns rcode=refused",
    "formerr": "dns rcode=formerr",
    "notimp": "dns rcode=notimp",
    "empty": "dns answer=empty",
    "drop": "dns answer=drop",
    "slow": "dns delay_ms=300",
    "slownx": "dns rcode=nxdomain delay_ms=200",
    "point": "dns answer=127.0.0.1",
    "conn-refused": "refuse",
    "ok": None,
}
# what k6's docs and the issue say, where they say it
EXPECTED = {"nx": 1101, "servfail": 1100, "refused": 1100, "formerr": 1100, "notimp": 1100, "empty": 1101,
            "drop": 1050, "slow": 0, "point": 0, "conn-refused": 1212, "ok": 0, "slownx": 1101}
PROTOS = {"h1": "http", "h2": "https"}


def _complete(got: dict):
    """Every case's A and AAAA query records (Go asks both), and the request's own record
    where the lookup succeeded (k6 got a status)."""
    def done(recs: list[dict]) -> bool:
        for case, k6 in got.items():
            label, proto = case.rsplit("-", 1)
            qtypes = {r["qtype"] for r in recs if r["record"] == "dns" and r["name"] == f"{label}.{proto}.test"}
            flow = any(r["record"] == "flow" and f"case={case}" in r["url"] for r in recs)
            if not qtypes >= {"A", "AAAA"} or (k6["status"] and not flow):
                return False
        return True
    return done


@pytest.fixture(scope="module")
def run(upstream, tmp_path_factory):
    rep = tmp_path_factory.mktemp("dns") / "report.jsonl"
    faults = [f"|~d ^{label}\\.|{spec}" for label, spec in RULES.items() if spec]
    with dns_proxy(upstream.url, rep, faults) as px:
        cases = [{"id": f"{label}-{proto}", "url": f"{scheme}://{label}.{proto}.test:{px.port}/d?case={label}-{proto}",
                  "timeout": "10s"} for proto, scheme in PROTOS.items() for label in RULES]
        got = k6run.run(cases, env={"SSL_CERT_FILE": str(px.ca_file)}, resolv_conf=resolv_conf(px.ns))
        recs = wait_for_records(rep, _complete(got), f"the query (A, AAAA) and request records of {len(got)} cases")
    assert "Traceback" not in px.log(), px.log()[-3000:]
    return got, recs


@pytest.mark.parametrize("proto", PROTOS)
@pytest.mark.parametrize("label", RULES)
def test_k6_reports_what_the_dns_records_say(run, label, proto):
    got, recs = run
    k6 = got[f"{label}-{proto}"]
    name = f"{label}.{proto}.test"
    queries = [r for r in recs if r["record"] == "dns" and r["name"] == name]
    assert {r["qtype"] for r in queries} >= {"A", "AAAA"}, queries  # Go asks both
    assert all(r["fault"] == RULES[label] for r in queries)
    # one lookup, one decision; a re-ask after the resolver's timeout (1 s here) is a new lookup:
    # for drop always, and for any name whose answer came late (seen in CI under load for
    # point-h2: 2 lookups), so there are never more lookups than asks of one query type
    asks = max(Counter(r["qtype"] for r in queries).values())
    lookups = {r["lookup"] for r in queries}
    assert len(lookups) <= asks, queries  # asked once: one lookup, as before
    assert k6["error_code"] == EXPECTED[label], k6
    flows = [r for r in recs if r["record"] == "flow" and f"case={label}-{proto}" in r["url"]]
    if k6["error_code"] in (0, 1000) or k6["status"]:
        # the lookup succeeded: the request's own record is what k6 reports
        assert all(r["k6_error_code"] == 0 for r in queries)
        (flow,) = flows
        assert flow["k6_error_code"] == k6["error_code"] and k6["status"] == 200
        assert flow["http_version"] == ("HTTP/2.0" if proto == "h2" else "HTTP/1.1")
    else:
        assert not flows
        for r in queries:
            assert r["k6_error_code"] == k6["error_code"], (r, k6)
            assert r["k6_error"] == k6["error"], (r, k6)


def test_answer_inside_k6_blacklist_is_1110(upstream, tmp_path, monkeypatch):
    """An answer in k6's blacklistIPs: k6 refuses to dial it (1110). The proxy cannot
    know the client's list: the record says where the name pointed (0, uncertain)."""
    script = k6run.SCRIPT.replace("insecureSkipTLSVerify: false,",
                                  "insecureSkipTLSVerify: false, blacklistIPs: ['127.66.0.0/16'],")
    monkeypatch.setattr(k6run, "SCRIPT", script)
    with dns_proxy(upstream.url, tmp_path / "r.jsonl", ["|~d ^black\\.|dns answer=127.66.0.5"]) as px:
        got = k6run.run([{"id": "b", "url": f"http://black.test:{px.port}/"}], resolv_conf=resolv_conf(px.ns))
        recs = [r for r in wait_for_records(px.report_path, lambda recs: any(
            r.get("name") == "black.test" and r["qtype"] == "A" for r in recs), "black.test's A query record")
            if r.get("name") == "black.test"]
    assert (got["b"]["error_code"], got["b"]["error"]) == (1110, "ip is blacklisted")
    a = next(r for r in recs if r["qtype"] == "A")
    assert a["facts"]["addresses"] == ["127.66.0.5"] and a["certainty"] != "exact"
