from collections import Counter

from faults.score import observe


def rec(started, method="GET", status=503, fault="status code=503", conn="c1", end=None, url="http://h/x", **kw):
    facts = {"conn_end": end} if end else {}
    return {"record": "flow", "started": started, "ts": started + 0.01, "method": method, "status": status,
            "fault": fault, "conn": conn, "url": url, "facts": facts, "k6_error_code": 1503 if status == 503 else 0,
            "clients": {"k6": {"error": 1503}, "curl": {"error": None}}, **kw}


def test_attempts_intervals_and_give_up():
    recs = [rec(10.5), rec(10.0), rec(11.0)]  # written out of order: sorted by start
    row = observe.observe(recs)
    assert row["attempts"] == 3 and row["intervals_ms"] == [500, 500]
    assert row["methods"] == ["GET"] * 3 and row["resent_methods"] == ["GET"]
    assert row["gave_up_ms"] == 1010  # first start to the last failure's end
    assert row["clients"] == {"k6": 1503, "curl": "ok"} and row["k6_error_code"] == 1503


def test_success_in_the_end_is_not_giving_up():
    row = observe.observe([rec(1.0), rec(1.2, status=200, fault=None)])
    assert row["gave_up_ms"] is None and row["attempts"] == 2


def test_resent_counts_against_the_baseline():
    base = Counter({("POST", "/x"): 2})  # the client posts twice on its own
    recs = [rec(1.0, method="POST"), rec(1.1, method="POST")]
    assert observe.observe(recs, baseline=base)["resent_methods"] == []
    recs.append(rec(1.2, method="POST"))
    row = observe.observe(recs, baseline=base)
    assert row["resent_methods"] == ["POST"] and row["resent_non_idempotent"] is True
    assert observe.observe([rec(1.0, method="PUT"), rec(2.0, method="PUT")])["resent_non_idempotent"] is False


def test_retry_after_honoured():
    assert observe.observe([rec(1.0), rec(2.0)], retry_after_s=1)["retry_after_honoured"] is True
    assert observe.observe([rec(1.0), rec(1.5)], retry_after_s=1)["retry_after_honoured"] is False
    assert observe.observe([rec(1.0)], retry_after_s=1)["retry_after_honoured"] is None  # nothing re-sent
    assert observe.observe([rec(1.0), rec(1.5)])["retry_after_honoured"] is None  # none announced


def test_new_connection_after_a_connection_ending_fault():
    reset = dict(status=None, fault="reset when=before_response", end="rst", error="killed")
    assert observe.observe([rec(1.0, conn="a", **reset), rec(1.1, conn="b", **reset)])["new_connection"] is True
    assert observe.observe([rec(1.0, conn="a", **reset), rec(1.1, conn="a", **reset)])["new_connection"] is False
    assert observe.observe([rec(1.0), rec(1.1)])["new_connection"] is None  # a 503 ends nothing


def test_handshake_records_are_attempts_without_a_method():
    hs = {"record": "tls_handshake", "ts": 5.0, "fault": "tls cert=untrusted", "clients": {"curl": {"error": 60}}}
    other = {"record": "dns", "ts": 5.0}
    row = observe.observe([hs, other])
    assert row["attempts"] == 1 and row["methods"] == [None] and row["resent_methods"] == []
    assert row["clients"] == {"curl": 60} and row["gave_up_ms"] == 0
