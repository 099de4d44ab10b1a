"""faults/expect.py: the one matcher behind fault_proxy.expect and the control endpoint's /expect."""

import pytest

from faults import expect
from faults.expect import Expectation

RECS = [
    {"url": "http://x/a", "method": "GET", "k6_error_code": 1220, "fault": "reset when=mid_body",
     "clients": {"node": {"error": "ECONNRESET"}, "curl": {"error": 56},
                 "java": {"error": "IOException", "alt": [{"error": "EOFException"}]}}},
    {"url": "http://x/b", "method": "GET", "k6_error_code": 0, "fault": None,
     "clients": {"node": {"error": "ok"}, "curl": {"error": 0}}},
]


@pytest.mark.parametrize("exp,n", [
    (Expectation(client="node", error="ECONNRESET"), 1),
    (Expectation(error="EOFException"), 1),            # a racing client's other reading
    (Expectation(client="curl", error="56"), 1),       # text from a query matches curl's number
    (Expectation(code=0, fault=False), 1),
    (Expectation(fault="reset"), 1),                   # the kind alone
    (Expectation(fault="reset when=mid_body", url="/a"), 1),
    (Expectation(fault="rese"), 0),                    # not a prefix match
    (Expectation(client="node", error="ok"), 1),
    (Expectation(), 2),
])
def test_matching(exp, n):
    assert len(expect.hits(exp, RECS)) == n


def test_count_is_exact_and_absent_means_at_least_one():
    assert Expectation(count=0, code=1503).met(0) and not Expectation(count=2).met(1)
    assert Expectation().met(3) and not Expectation().met(0)


def test_explain_lists_every_flow_and_marks_matches():
    text = expect.explain(Expectation(client="node", error="UND_ERR_SOCKET", count=1), RECS, scope="t")
    assert text.startswith("expect(client='node', error='UND_ERR_SOCKET'): expected 1 matching flow(s), got 0")
    assert "1220: 1" in text and "http://x/a" in text and "ECONNRESET" in text
    assert "+ " not in text.split("\n", 2)[2].replace("(+ = matches)", "")


def test_from_query_parses_and_names_bad_parameters():
    exp, timeout = expect.from_query({"client": "node", "error": "ECONNRESET", "count": "1", "code": "1220",
                                      "fault": "false", "timeout": "0.5"})
    assert exp == Expectation(client="node", error="ECONNRESET", count=1, code=1220, fault=False) and timeout == 0.5
    with pytest.raises(ValueError, match="unknown parameter 'cliet': did you mean client"):
        expect.from_query({"cliet": "node"})
    with pytest.raises(ValueError, match="count='one': expected a whole number"):
        expect.from_query({"count": "one"})
    with pytest.raises(ValueError, match="client='nodejs': unknown client profile 'nodejs': did you mean node"):
        expect.from_query({"client": "nodejs"})
    with pytest.raises(ValueError, match="timeout=600: must be <= 60"):
        expect.from_query({"timeout": "600"})
    with pytest.raises(ValueError, match="count=-1"):
        expect.from_query({"count": "-1"})
