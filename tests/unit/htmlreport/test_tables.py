"""faults.htmlreport.tables: by rule, per client, the scorecard."""

from faults.htmlreport import tables
from faults.htmlreport.lanes import Lane


def test_by_rule_counts_each_rules_records_and_when():
    recs = [{"rule": "a", "fault": "status code=503", "k6_error_code": 1503},
            {"rule": None, "k6_error_code": 0},
            {"rule": "a", "fault": "status code=503", "k6_error_code": 1503},
            {"rule": "b", "fault": "reset when=mid_body", "k6_error_code": 1000}]
    rows = tables.by_rule(recs, [1.0, 2.0, 3.5, 0.5], [Lane("a"), Lane("b"), Lane("never", fault="hang")])
    got = {r["rule"]: (r["injected"], dict(r["codes"]), r["first"], r["last"], r["kinds"]) for r in rows}
    assert got == {"a": (2, {"1503": 2}, 1.0, 3.5, ["status"]), "b": (1, {"1000": 1}, 0.5, 0.5, ["reset"]),
                   "never": (0, {}, None, None, ["hang"])}


def test_by_rule_says_how_long_its_requests_took():
    recs = [{"rule": "slow", "fault": "delay ms=200", "k6_error_code": 0, "duration_ms": d}
            for d in (210.0, 205.5, 250.0, 400.0, None)]
    row = tables.by_rule(recs, [0.0] * 5, [Lane("slow")])[0]
    assert (row["p50_ms"], row["p95_ms"]) == (210.0, 400.0)
    assert tables.percentile([1, 2, 3, 4], 50) == 2 and tables.percentile([7], 95) == 7
    assert tables.by_rule([], [], [Lane("x")])[0]["p50_ms"] is None


def test_by_client_counts_errors_not_successes():
    recs = [{"clients": {"k6": {"error": 1503}, "curl": {"error": 0}, "node": {"error": "ok"}}},
            {"clients": {"k6": {"error": 0}, "curl": {"error": 56}, "httpx": {"error": None}}},
            {"record": "connection"}]
    rows = {r["client"]: r for r in tables.by_client(recs)}
    assert (rows["k6"]["records"], rows["k6"]["errors"], rows["k6"]["by_error"]) == (2, 1, [("1503", 1)])
    assert rows["curl"]["by_error"] == [("56", 1)] and rows["node"]["errors"] == 0 and rows["httpx"]["records"] == 1


def test_scorecard_shows_issue_23s_columns_in_order_and_the_verdict_last():
    card = tables.scorecard([{"hung": True, "fault": "hang", "verdict": "fail", "reasons": ["hung"], "attempts": 1,
                              "extra_key": 7},
                             {"fault": "status code=503", "attempts": 3, "verdict": None, "intervals_ms": [100, 200]}])
    assert card["columns"] == [("fault", "fault"), ("attempts", "attempts"), ("intervals_ms", "intervals ms"),
                               ("hung", "hung"), ("extra_key", "extra key")]
    first, second = card["rows"]
    assert first["cells"]["hung"] == "yes" and second["cells"]["intervals_ms"] == "100, 200"
    assert (first["verdict"], first["reasons"]) == ("fail", ["hung"]) and second["cells"]["extra_key"] == "-"
    assert (second["verdict"], second["reasons"], second["changed"]) == (None, [], [])


def test_windows_text():
    ln = Lane("a", windows=[(10.0, 40.0), (60.0, None)], ramp=[(10.0, 0.2), (40.0, 0.5)], requests="1..2")
    assert tables.windows_text(ln) == "10s..40s, 60s..; p 0.2@10s → 0.5@40s; requests 1..2"
    assert tables.windows_text(Lane("b", probability=0.1)) == "p 0.1"


def test_scorecard_of_a_real_faults_score_row():
    row = {"fault": "status code=503", "attempts": 1, "intervals_ms": [], "methods": ["GET"], "statuses": [503],
           "resent_methods": [], "resent_non_idempotent": False, "retry_after_honoured": None,
           "clients": {"k6": 1503, "curl": 0}, "exit_code": 0, "hung": False, "duration_ms": 18,
           "stderr_tail": ["x"], "verdict": None, "reasons": [], "changed": ["attempts"]}
    card = tables.scorecard([row])
    assert [k for k, _ in card["columns"]] == ["fault", "attempts", "methods", "statuses", "resent_non_idempotent",
                                               "exit_code", "hung", "duration_ms", "clients"]  # empty ones left out
    r = card["rows"][0]
    assert r["cells"]["clients"] == "k6 1503, curl 0" and r["cells"]["hung"] == "no"
    assert tables.scorecard([dict(row, methods=[None, "GET"])])["rows"][0]["cells"]["methods"] == "TLS, GET"
    assert (r["stderr_tail"], r["changed"]) == (["x"], ["attempts"])
