"""faults.htmlreport.render: the page is self-contained and shows the records' numbers."""

from collections import Counter
from html.parser import HTMLParser

from faults.htmlreport import render
from faults.htmlreport.lanes import Lane


class Elements(HTMLParser):
    def __init__(self, text):
        super().__init__()
        self.els: list[tuple[str, dict]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.els.append((tag, dict(attrs)))

    def with_class(self, cls):
        return [a for _, a in self.els if cls in (a.get("class") or "").split()]


RECS = [{"record": "flow", "t": 0.2, "k6_error_code": 0, "rule": None, "clients": {"k6": {"error": 0}}},
        {"record": "flow", "t": 1.2, "k6_error_code": 1503, "rule": "api", "fault": "status code=503",
         "clients": {"k6": {"error": 1503}}},
        {"record": "flow", "t": 1.7, "k6_error_code": 1503, "rule": "api", "fault": "status code=503",
         "clients": {"k6": {"error": 1503}}},
        {"record": "flow", "t": 5.0, "k6_error_code": 0, "rule": None, "clients": {"k6": {"error": 0}}}]


def test_the_page_loads_nothing_and_counts_what_the_records_hold():
    page = render.render(RECS, plan=[Lane("api", windows=[(1.0, 3.0)], ramp=[(1.0, 0.2), (3.0, 0.5)])],
                         code_rows=[{"k6_error_code": 1503, "count": 2, "percent": 50.0, "id": "x", "faults": {},
                                     "description": "d"}],
                         score=[{"fault": "hang", "attempts": 1, "verdict": "fail", "reasons": ["hung"]}])
    doc = Elements(page)
    tags = Counter(t for t, _ in doc.els)
    assert tags["script"] == 0 and tags["link"] == 0 and tags["img"] == 0 and tags["iframe"] == 0
    assert not any(k in ("src", "href") for _, a in doc.els for k in a)
    assert "default-src 'none'" in page
    bars = Counter()
    for a in doc.with_class("bar"):
        bars[a["data-outcome"]] += int(a["data-count"])
    assert bars == {"0": 2, "1503": 2}
    lane = doc.with_class("lane")[0]
    assert (lane["data-rule"], lane["data-injected"], lane["data-ramp"]) == ("api", "2", "1:0.2 3:0.5")
    assert [(w["data-from"], w["data-to"]) for w in doc.with_class("lane-window")] == [("1.0", "3.0")]
    assert sum(int(h["data-count"]) for h in doc.with_class("lane-hit")) == 2
    assert [a for t, a in doc.els if t == "tr" and a.get("data-fault") == "hang"][0]["data-verdict"] == "fail"


def test_what_the_records_say_is_escaped():
    hostile = [{"record": "flow", "t": 0.0, "k6_error_code": 0, "rule": "<script>alert(1)</script>",
                "fault": "status code=503", "clients": {"<b>x": {"error": "<i>"}}}]
    page = render.render(hostile)
    assert "<script>" not in page and "&lt;script&gt;alert(1)" in page and "<b>x" not in page


def test_a_scorecard_alone_renders():
    page = render.render([], score=[{"fault": "reset", "attempts": 2, "verdict": "pass", "reasons": []}])
    assert 'data-fault="reset"' in page and "Requests per second" not in page


def test_a_huge_plan_draws_the_lanes_that_matter_and_lists_every_rule():
    plan = [Lane(f"r{i}") for i in range(200)] + [Lane("windowed", windows=[(1.0, 2.0)])]
    recs = [{"record": "flow", "t": 0.5, "k6_error_code": 1503, "rule": "r150", "fault": "status code=503"}]
    doc = Elements(render.render(recs, plan=plan))
    assert [a["data-rule"] for a in doc.with_class("lane")] == ["r150", "windowed"]
    assert len([a for t, a in doc.els if t == "tr" and "data-rule" in a]) == 201
    assert [a for t, a in doc.els if a.get("id") == "lanes-left-out"]
