"""faults.htmlreport.timeline: record times, buckets, counts by outcome."""

from faults.htmlreport import timeline


def rec(ts=None, t=None, code=0, rule=None, record="flow"):
    r = {"record": record, "k6_error_code": code, "rule": rule}
    if ts is not None:
        r["ts"] = ts
    if t is not None:
        r["t"] = t
    return r


def test_t_is_used_when_every_record_has_it():
    assert timeline.times([rec(ts=100.0, t=3.5), rec(ts=99.0, t=0.25)]) == ([3.5, 0.25], "t")


def test_without_t_time_is_seconds_after_the_first_record():
    assert timeline.times([rec(ts=1000.5), rec(ts=1000.0), rec(ts=1002.0)]) == ([0.5, 0.0, 2.0], "ts")


def test_mixed_records_line_up_on_the_t_origin():
    # the first has t=1 at ts=1001: t0 is ts 1000; the other (no t) at ts 1003 is t=3
    ts, source = timeline.times([rec(ts=1001.0, t=1.0), rec(ts=1003.0)])
    assert ts == [1.0, 3.0] and source == "t+ts"


def test_bucket_width_keeps_the_bars_countable():
    assert timeline.bucket_width(3) == 0.1 and timeline.bucket_width(10) == 0.5  # a short run: >= 20 bars
    assert timeline.bucket_width(20) == 1
    assert timeline.bucket_width(300) == 1
    assert timeline.bucket_width(301) == 2
    assert timeline.bucket_width(3600) == 15
    assert timeline.bucket_width(10 ** 7) > 3600


def test_sub_second_buckets_count_each_record_once():
    tl = timeline.build([rec(t=0.0), rec(t=0.3), rec(t=0.35), rec(t=2.95)])
    assert tl.width == 0.1 and tl.buckets == 30 and tl.end == 3.0
    assert [i for i, n in enumerate(tl.counts["0"]) if n] == [0, 3, 29] and sum(tl.counts["0"]) == 4
    assert tl.start(3) == 0.3


def test_counts_by_outcome_and_rule_sum_to_the_records():
    recs = [rec(t=1), rec(t=9, code=1503, rule="a"), rec(t=10, code=1503, rule="a"), rec(t=25, code=1220, rule="b"),
            {"record": "websocket", "t": 29.0, "rule": None}, rec(t=20.5, code=None, record="connection")]
    tl = timeline.build(recs)
    assert tl.width == 1 and tl.buckets == 30

    def nonzero(series):
        return {i: n for i, n in enumerate(series) if n}

    assert {k: nonzero(v) for k, v in tl.counts.items()} == {
        "0": {1: 1}, "1503": {9: 1, 10: 1}, "1220": {25: 1}, "ws": {29: 1}, "none": {20: 1}}
    assert {k: nonzero(v) for k, v in tl.injected.items()} == {"a": {9: 1, 10: 1}, "b": {25: 1}}
    assert tl.outcomes[0] == "0" and tl.outcomes[1] == "1503"
    assert sum(tl.totals.values()) == len(recs) and tl.peak == 1


def test_a_plan_window_past_the_last_record_extends_the_axis():
    tl = timeline.build([rec(t=1.0)], extra_end=90.0)
    assert tl.end >= 90 and tl.counts["0"][0] == 0 and sum(tl.counts["0"]) == 1


def test_slim_keeps_what_the_page_reads_of_proxy_records_only():
    k6_line = {"type": "Point", "metric": "http_reqs", "data": {}}
    full = {"v": 2, "ts": 1.0, "t": 0.5, "record": "flow", "k6_error_code": 1503, "rule": "r", "fault": "status",
            "url": "http://x/", "outcome": {"facts": "big"}, "annotation": {},
            "clients": {"k6": {"error": 1503, "message": "m", "certainty": "exact"}, "odd": 3}}
    assert timeline.slim(k6_line) is None
    assert timeline.slim(full) == {"record": "flow", "t": 0.5, "ts": 1.0, "k6_error_code": 1503, "rule": "r",
                                   "fault": "status", "clients": {"k6": {"error": 1503}}}
    assert timeline.slim({"record": "dns", "ts": 2.0}) == {"record": "dns", "ts": 2.0}
