"""Issue 24, items 4 and 5, with real clients: k6 at a constant arrival rate through
``faults proxy --workers 2`` with a small plan (a delay; a 503 in a window from 0.5 s to
2.5 s, its probability ramped from 0.2 to 0.6; a 429 every 4th), ``fault_metrics`` on. Then:

- ``/metrics``, parsed with prometheus_client's own parser, equals the report (requests
  by k6 code, which also equal k6's own ``--out json`` codes; faults by rule and kind;
  client errors), its active-faults gauge rose during the run and is 0 after it;
- ``faults report --html`` of that run, opened from its file in headless Chromium, makes
  no request but its own file and logs nothing to the console, and the counts it shows
  (bars, lanes, tables) equal the report's;
- windows and ramps: a hand-written report and a plan with ``window`` and ramped
  ``probability`` keys (issue 24's plan forms), drawn in the same Chromium: each lane's
  shading sits where its window is on the time axis.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from faults import report
from faults.tools import k6run
from faults.tools.launch import ProxyProcess

from .waiting import metrics_url, scrape, wait_for_records

DRIVERS = Path(__file__).parent / "drivers"
PLAN = """seed: 7
rules:
  - name: slow
    match: "~u /slow"
    fault: delay ms=400
  - name: unavailable
    match: "~u /api"
    fault: status code=503
    window: 0.5s..2.5s
    probability: 0.2..0.6
  - name: limited
    match: "~u /api"
    fault: status code=429 retry_after=1
    every: 4
"""
SCRIPT = r"""
import http from 'k6/http';
import exec from 'k6/execution';
export const options = {
  scenarios: { load: { executor: 'constant-arrival-rate', rate: 40, timeUnit: '1s', duration: '3s',
                       preAllocatedVUs: 24, maxVUs: 48 } },
};
export default function () {
  const i = exec.scenario.iterationInTest;
  http.get(`${__ENV.BASE}/${i % 4 === 0 ? 'slow' : 'api'}?i=${i}`, { timeout: '5s' });
}
"""
WINDOW_PLAN = """rules:
  - name: ramped
    match: "~u /api"
    fault: status code=503
    window: 10s..40s
    probability: 0.2..0.5
  - name: late
    fault: reset when=before_response
    window: 45s..
  - fault: delay ms=100
    window: ..5s
    probability: {0s: 1, 5s: 0}
"""
def series(samples: dict, name: str) -> dict[tuple, float]:
    """``name``'s samples by their label values (in label-name order), zeros left out."""
    return {tuple(v for _, v in labels): value for (n, labels), value in samples.items() if n == name and value}


@pytest.fixture(scope="module")
def run(upstream, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("htmlmetrics")
    plan, rep, k6_out = tmp / "plan.yaml", tmp / "report.jsonl", tmp / "k6.json"
    plan.write_text(PLAN)
    (tmp / "s.js").write_text(SCRIPT)
    px = ProxyProcess(mode=f"reverse:{upstream.url}", workers=2,
                      options={"fault_plan": str(plan), "fault_report": str(rep), "fault_metrics": "127.0.0.1:0"})
    with px:
        url = metrics_url(px)
        env = dict(os.environ, BASE=px.url, K6_NO_USAGE_REPORT="true")
        k6 = subprocess.Popen([k6run.k6_path(), "run", "--quiet", "--no-summary", f"--out=json={k6_out}",
                               str(tmp / "s.js")], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        active_seen = 0.0
        deadline = time.monotonic() + 60
        while k6.poll() is None and time.monotonic() < deadline:  # the gauge, live, while k6 runs
            active_seen = max(active_seen, series(scrape(url), "faults_active").get(("slow",), 0.0))
            time.sleep(0.1)  # kept: the sampling interval of the live gauge (the subject), until k6 exits
        out, err = k6.communicate(timeout=30)
        assert k6.returncode == 0, err[-2000:]
        truth = collections.Counter()  # what k6 itself reported, per request
        for line in k6_out.read_text().splitlines():
            p = json.loads(line)
            if p.get("type") == "Point" and p.get("metric") == "http_reqs":
                truth[str(int(p["data"]["tags"].get("error_code") or 0))] += 1
        # records are written as each flow ends; k6 exits once it has every response
        wait_for_records(rep, lambda recs: len(recs) >= sum(truth.values()), f"{sum(truth.values())} records, one per k6 request")
        metrics = scrape(url)
        records = report.read(rep)
    assert "Traceback" not in px.log(), px.log()[-3000:]
    return {"truth": truth, "records": records, "metrics": metrics, "active_seen": active_seen,
            "report": rep, "plan": plan, "tmp": tmp}


def test_metrics_equal_the_report_and_k6(run):
    recs, m = run["records"], run["metrics"]
    assert {r["worker"] for r in recs} == {"0", "1"}  # both workers served: the sum is across processes
    by_code = collections.Counter(report.k6_code_label(r) for r in recs)
    assert by_code == run["truth"]  # the report is what k6 reported...
    assert set(by_code) >= {"0", "1503", "1429"}
    assert series(m, "faults_flows_total") == {(code,): n for code, n in by_code.items()}  # ...and so is /metrics
    injected = collections.Counter((r["rule"], report.kind_of(r["fault"])) for r in recs if r["rule"])
    assert series(m, "faults_injected_total") == {(kind, rule): n for (rule, kind), n in injected.items()}
    assert {rule for rule, _ in injected} == {"slow", "unavailable", "limited"}
    errors = collections.Counter(p for r in recs for p in report.client_errors(r["clients"]))
    assert series(m, "faults_client_errors_total") == dict(errors)
    assert errors[("k6", "1503")] == by_code["1503"]


def test_active_faults_rose_during_the_run_and_are_none_after(run):
    assert run["active_seen"] >= 1  # 10 delayed requests/s held 400 ms each: a few at any moment
    assert series(run["metrics"], "faults_active") == {}


def chromium_missing() -> str | None:
    if not shutil.which(os.environ.get("CHROMIUM", "chromium")):
        return "chromium is not installed (apt-get install chromium)"
    if not shutil.which("node") or not (DRIVERS / "node_modules" / "playwright-core").is_dir():
        return "playwright-core is not installed (npm ci --prefix tests/e2e/drivers)"
    return None


def html(report_file: Path, plan: Path, out: Path) -> Path:
    cli = subprocess.run([sys.executable, "-m", "faults", "report", str(report_file), "--html", str(out),
                          "--plan", str(plan)], capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stderr
    return out


def window_fixture(tmp: Path) -> tuple[Path, Path]:
    """60 s of hand-written records at 2 requests/s (``t`` as the proxy writes it), faulted
    where WINDOW_PLAN's rules apply, and that plan."""
    recs = []
    for i in range(120):
        t = i / 2
        rule = "ramped" if 10 <= t < 40 and i % 3 == 0 else "late" if t >= 45 and i % 4 == 0 else None
        code = {"ramped": 1503, "late": 1220, None: 0}[rule]
        recs.append({"v": 2, "ts": 1.7e9 + t, "t": t, "duration_ms": 3.0, "record": "flow", "worker": "",
                     "rule": rule, "fault": None if rule is None else f"{rule} fault", "k6_error_code": code,
                     "clients": {"k6": {"error": code}}})
    (tmp / "w.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    (tmp / "w.yaml").write_text(WINDOW_PLAN)
    return tmp / "w.jsonl", tmp / "w.yaml"


SCORE_ROWS = [  # two rows as faults score --json writes them (tests/e2e/test_score.py checks those)
    {"fault": "reset when=before_response", "attempts": 3, "intervals_ms": [101, 99], "methods": ["POST"] * 3,
     "statuses": [None] * 3, "resent_methods": ["POST", "POST"], "resent_non_idempotent": True,
     "retry_after_honoured": None, "new_connection": True, "gave_up_ms": 210, "clients": {"k6": 1000, "curl": 56},
     "exit_code": 1, "hung": False, "duration_ms": 260, "stderr_tail": ["POST 3 failed"], "verdict": "fail",
     "reasons": ["3 attempts > max_attempts 2", "re-sent POST"], "changed": ["attempts"]},
    {"fault": "status code=503", "attempts": 1, "intervals_ms": [], "methods": ["GET"], "statuses": [503],
     "resent_methods": [], "resent_non_idempotent": False, "retry_after_honoured": None, "new_connection": None,
     "gave_up_ms": 0, "clients": {"k6": 0, "curl": 0}, "exit_code": 0, "hung": False, "duration_ms": 40,
     "stderr_tail": [], "verdict": "pass", "reasons": [], "changed": []}]


def score_pages(tmp: Path, report_file: Path) -> list[Path]:
    """The same scorecard twice: ``faults score --html``'s page (its writer, from a saved
    --json document) and ``faults report --html --score`` (the CLI)."""
    from faults.score import output

    doc = output.document(SCORE_ROWS, None, {"command": "client.py naive", "url": "http://127.0.0.1:1",
                                             "timeout": 10, "policy": "policy.yaml", "baseline_file": None})
    output.write_json(tmp / "score.json", doc)
    output.write_html(tmp / "score.html", doc)
    cli = subprocess.run([sys.executable, "-m", "faults", "report", str(report_file), "--html",
                          str(tmp / "with-score.html"), "--score", str(tmp / "score.json")],
                         capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stderr
    return [tmp / "score.html", tmp / "with-score.html"]


@pytest.fixture(scope="module")
def pages(run, tmp_path_factory):
    """The pages opened in one Chromium: the k6 run's page, the windows fixture's page, then
    a faults score --html page and a report page given the same scorecard with --score."""
    if why := chromium_missing():
        pytest.skip(why)
    tmp = tmp_path_factory.mktemp("pages")
    windows = window_fixture(tmp)
    urls = [html(run["report"], run["plan"], tmp / "run.html").as_uri(),
            html(*windows, tmp / "windows.html").as_uri(),
            *(p.as_uri() for p in score_pages(tmp, windows[0]))]
    res = subprocess.run(["node", str(DRIVERS / "html_page.mjs"), json.dumps(urls), str(tmp / "profile")],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr[-2000:]
    got = json.loads(res.stdout)
    for page, url in zip(got, urls):
        assert page["requests"] == [url] and page["failed"] == []  # its own file, nothing else
        assert page["console"] == [] and page["errors"] == []
    return got


def test_the_html_report_opens_offline_and_shows_the_reports_counts(run, pages):
    recs, dom = run["records"], pages[0]["dom"]
    by_code = collections.Counter(report.k6_code_label(r) for r in recs)
    assert dom["total"] == len(recs)
    assert dom["bars"] == dict(by_code)
    assert max(dom["perCount"]) - min(dom["perCount"]) < 0.01 * max(dom["perCount"])  # heights in proportion
    assert dom["byCode"] == {code: n for code, n in by_code.items()}
    injected = collections.Counter(r["rule"] for r in recs if r["rule"])
    lanes = {ln["rule"]: ln for ln in dom["lanes"]}
    assert list(lanes) == ["slow", "unavailable", "limited"]  # the plan's rules, in its order
    assert {rule: ln["injected"] for rule, ln in lanes.items()} == dict(injected)
    assert {rule: ln["hits"] for rule, ln in lanes.items()} == dict(injected)
    assert all(ln["height"] > 0 for ln in lanes.values())
    assert lanes["unavailable"]["windows"] == [["0.5", "2.5"]] and lanes["unavailable"]["ramp"] == "0.5:0.2 2.5:0.6"
    assert lanes["slow"]["windows"] == [] and lanes["slow"]["ramp"] == ""
    # what the lane shades is where the proxy applied the rule: the records' t (from the run's t0)
    assert all(0.5 <= r["t"] < 2.5 for r in recs if r["rule"] == "unavailable")
    assert dom["byRule"] == dict(injected)
    errors = collections.Counter(p for r in recs for p in report.client_errors(r["clients"]))
    shown = {(c, e): n for c, row in dom["clients"].items() for e, n in row["by_error"].items()}
    assert shown == dict(errors)
    assert dom["svgWidth"] > 300


def test_the_lanes_shade_each_rules_window_where_it_is(pages):
    dom = pages[1]["dom"]
    lanes = {ln["rule"]: ln for ln in dom["lanes"]}
    assert list(lanes)[:2] == ["ramped", "late"] and len(lanes) == 3
    assert lanes["ramped"]["windows"] == [["10.0", "40.0"]] and lanes["ramped"]["ramp"] == "10:0.2 40:0.5"
    assert lanes["late"]["windows"] == [["45.0", ""]]  # open end: to the end of the axis
    third = [ln for rule, ln in lanes.items() if rule not in ("ramped", "late")][0]
    assert third["windows"] == [["0.0", "5.0"]] and third["ramp"] == "0:1 5:0"
    left, width = dom["plotBox"]
    end = dom["axisEnd"]
    for ln, (start, stop) in ((lanes["ramped"], (10, 40)), (lanes["late"], (45, end)), (third, (0, 5))):
        box_left, box_width = ln["windowBoxes"][0]
        assert abs(box_left - (left + start / end * width)) < 1.5, (ln["rule"], box_left)
        assert abs(box_width - (stop - start) / end * width) < 1.5, (ln["rule"], box_width)
    assert lanes["ramped"]["injected"] == lanes["ramped"]["hits"] == 20
    assert dom["total"] == 120 and dom["bars"] == {"0": 93, "1503": 20, "1220": 7}  # i % 3 in 10..40 s, i % 4 from 45 s


def test_the_scorecard_reads_the_same_in_faults_score_and_in_the_report(pages):
    """One renderer: the scorecard of ``faults score --html`` and of ``faults report --html
    --score`` show the same headings, cells and colours in Chromium, and what the rows say."""
    score, report_page = pages[2]["dom"], pages[3]["dom"]
    assert report_page["total"] == 120 and score["total"] is None  # the report's tables, the score's alone
    assert score["scoreHeads"] == report_page["scoreHeads"] and score["scoreRows"] == report_page["scoreRows"]
    assert score["scoreFailBackground"] == report_page["scoreFailBackground"] not in (None, "rgba(0, 0, 0, 0)")
    heads = score["scoreHeads"]
    assert heads[0] == "fault" and heads[-1] == "verdict" and "Retry-After honoured" not in heads  # no row fills it
    (naive, careful) = score["scoreRows"]
    assert (naive["fault"], naive["verdict"], careful["verdict"]) == ("reset when=before_response", "fail", "pass")
    cells = dict(zip(heads, naive["cells"]))
    assert (cells["attempts"], cells["intervals ms"], cells["re-sent"]) == ("3", "101, 99", "POST, POST")
    assert cells["verdict"].splitlines()[:4] == ["fail", "3 attempts > max_attempts 2", "re-sent POST",
                                                 "changed: attempts"]
