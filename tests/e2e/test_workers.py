"""faults proxy --workers 2 under k6 load (issue 18): one port, two mitmdump workers.

Faults come from the plan file and from the control endpoint (a change that must
reach both workers before it answers 200); a t0 set through one worker is both workers'. After a clean stop (SIGINT to the
supervisor) the one report holds every k6 request exactly once (matched by
x-request-id), each with its worker id; both workers served; a global
``first: 1`` faulted exactly one request; and each worker's draws are the ones its
derived seed predicts, the same in a second run with the same seed and N.
"""

from __future__ import annotations

import json
import random
import urllib.request
from collections import Counter

import pytest

from faults import report, worker
from faults.tools import k6run
from faults.tools.launch import ProxyProcess

TOKEN = "tok-workers"
SEED = 1234
P = 0.5
PLAN = f"""
seed: {SEED}
rules:
  - name: first-ever
    match: "~u /first"
    fault: status code=503
    first: 1
    gates: global
  - name: per-worker-first
    match: "~u /wfirst"
    fault: status code=502
    first: 1
  - name: repro
    match: "~u /repro"
    fault: status code=500
    probability: {P}
"""

SCRIPT = r"""
import http from 'k6/http';
import exec from 'k6/execution';
const cases = JSON.parse(open(__ENV.CASES_FILE));
export const options = {
  scenarios: { s: { executor: 'shared-iterations', vus: Number(__ENV.VUS), iterations: cases.length,
                    maxDuration: '120s' } },
  noVUConnectionReuse: true,
};
export default function () {
  const c = cases[exec.scenario.iterationInTest];
  const res = http.get(c.url, { headers: { 'x-request-id': c.id }, timeout: '10s' });
  console.log(JSON.stringify({ id: c.id, error_code: res.error_code, status: res.status }));
}
"""


def start(upstream, tmp_path, name):
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN)
    rep = tmp_path / f"{name}.jsonl"
    px = ProxyProcess(mode=f"reverse:{upstream.url}", workers=2, options={
        "fault_plan": str(plan), "fault_report": str(rep), "fault_control": True,
        "fault_control_token": TOKEN, "keep_host_header": True, "termlog_verbosity": "warn",
        "fault_har": str(tmp_path / f"{name}.har")})
    px.report_path = rep
    return px.start()


def control(px, method, path, body=None):
    req = urllib.request.Request(f"{px.url}{path}", data=body.encode() if body else None, method=method)
    req.add_header("Host", "faults.control")
    req.add_header("Authorization", f"Bearer {TOKEN}")
    req.add_header("Connection", "close")  # a new connection each time: the kernel picks a worker
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(req, timeout=10) as resp:
        assert resp.status == 200
        return json.loads(resp.read())


def k6(px, paths, vus, prefix):
    cases = [{"id": f"{prefix}-{i}-{p}", "url": f"{px.url}/{p}?n={i}"} for i, p in enumerate(paths)]
    res = k6run.run(cases, script=SCRIPT, env={"VUS": str(vus)}, timeout=120)
    return cases, res


def stop(px):
    rc = px.stop()
    log = px.log()
    assert rc == 0, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    return [r for r in report.read(px.report_path) if r.get("record") == "flow"
            and "faults.control" not in (r.get("url") or "")]


def expected_draws(wid: str, n: int) -> list[bool]:
    rng = random.Random(worker.derive_seed(SEED, "repro", wid))
    return [rng.random() < P for _ in range(n)]


def repro_sequences(recs, prefix) -> dict[str, list[bool]]:
    """Per worker, in request order (one VU: sequential), whether each /repro request was faulted."""
    mine = sorted((r for r in recs if (r["request_id"] or "").startswith(prefix + "-")),
                  key=lambda r: int(r["request_id"].split("-")[1]))
    out: dict[str, list[bool]] = {}
    for r in mine:
        out.setdefault(r["worker"], []).append(r["fault"] == "status code=500")
    return out


@pytest.fixture(scope="module")
def first_run(upstream, tmp_path_factory):
    px = start(upstream, tmp_path_factory.mktemp("w1"), "run1")
    try:
        # a runtime rule through one worker; every worker has it before the 200
        posted = control(px, "POST", "/rules", "|~u /ctl|status code=429\n")
        seen = {}
        for _ in range(40):  # new connections until both workers answered
            got = control(px, "GET", "/rules")
            seen[got["worker"]] = [r["fault"] for r in got["rules"] if r["source"] == "runtime"]
            if len(seen) == 2:
                break
        # the run's clock set through one worker: 100 s old now, on both (faults.gates)
        t0 = control(px, "POST", "/t0?t=100")
        load = ["plain"] * 60 + ["first"] * 40 + ["wfirst"] * 40 + ["ctl"] * 60
        random.Random(5).shuffle(load)
        cases, res = k6(px, load, vus=8, prefix="load")
        rcases, rres = k6(px, ["repro"] * 40, vus=1, prefix="repro")
    finally:
        recs = stop(px)
    hars = {w: json.loads((px.report_path.parent / f"run1.worker{w}.har").read_text()) for w in ("0", "1")}
    return {"t0": t0, "posted": posted, "seen": seen, "cases": cases + rcases, "k6": {**res, **rres}, "recs": recs, "hars": hars}


def test_a_control_change_reaches_every_worker_before_it_answers(first_run):
    assert first_run["posted"]["worker"] in ("0", "1")
    assert first_run["seen"] == {"0": ["status code=429"], "1": ["status code=429"]}


def test_every_k6_request_is_in_the_merged_report_exactly_once_with_its_worker(first_run):
    recs, cases = first_run["recs"], first_run["cases"]
    assert len(first_run["k6"]) == len(cases)
    ids = Counter(r["request_id"] for r in recs)
    assert ids == Counter(c["id"] for c in cases), [i for i, n in ids.items() if n != 1][:10]
    assert {r["worker"] for r in recs} == {"0", "1"}  # both workers served
    # one HAR per worker (fault_har=run1.har -> run1.worker0.har, run1.worker1.har), together every request
    har_ids = Counter(h["value"] for har in first_run["hars"].values() for e in har["log"]["entries"]
                      for h in e["request"]["headers"] if h["name"].lower() == "x-request-id")
    assert har_ids == ids
    assert all(r["v"] == report.FORMAT for r in recs)


def test_every_worker_counts_time_from_the_one_t0_set_through_the_control(first_run):
    recs = [r for r in first_run["recs"] if (r["request_id"] or "").startswith("load-")]
    assert {r["worker"] for r in recs} == {"0", "1"}
    t0s = [r["ts"] - r["duration_ms"] / 1000 - r["t"] for r in recs]  # ts: written, t: started after t0
    assert max(t0s) - min(t0s) < 0.01, (min(t0s), max(t0s))
    assert abs(min(t0s) - first_run["t0"]["t0"]) < 0.01
    assert all(r["t"] >= 100 for r in recs)  # t0 was set 100 s before: counted from it


def test_plan_and_control_faults_hold_across_workers(first_run):
    recs, k6res = first_run["recs"], first_run["k6"]
    by = lambda path: [r for r in recs if f"/{path}?" in r["url"]]  # noqa: E731
    # global first: 1 -> exactly one request faulted, whichever worker got it
    assert sum(r["fault"] == "status code=503" for r in by("first")) == 1
    assert sum(v["status"] == 503 for k, v in k6res.items() if "-first" in k) == 1
    # per-worker first: 1 -> one per worker
    faulted = [r for r in by("wfirst") if r["fault"] == "status code=502"]
    assert sorted(r["worker"] for r in faulted) == ["0", "1"]
    # the runtime rule set through one worker applied on both
    ctl = by("ctl")
    assert all(r["fault"] == "status code=429" and r["k6_error_code"] == 1429 for r in ctl)
    assert {r["worker"] for r in ctl} == {"0", "1"}
    assert all(v["error_code"] == 1429 for k, v in k6res.items() if "-ctl" in k)


def test_each_workers_draws_are_its_derived_seeds_and_the_same_next_run(first_run, upstream, tmp_path):
    one = repro_sequences(first_run["recs"], "repro")
    px = start(upstream, tmp_path, "run2")
    try:
        k6(px, ["repro"] * 40, vus=1, prefix="repro")
    finally:
        two = repro_sequences(stop(px), "repro")
    assert set(one) == set(two) == {"0", "1"}
    for wid in ("0", "1"):
        assert one[wid] == expected_draws(wid, len(one[wid]))
        assert two[wid] == expected_draws(wid, len(two[wid]))
        n = min(len(one[wid]), len(two[wid]))  # the kernel spreads connections differently each run
        assert one[wid][:n] == two[wid][:n]
    assert expected_draws("0", 20) != expected_draws("1", 20)


# -- the supervisor's lifecycle ------------------------------------------------------------

def worker_pids(px) -> list[int]:
    return px.worker_pids()


def test_sigterm_stops_every_worker_cleanly(upstream, tmp_path):
    import os
    import signal

    px = ProxyProcess(mode=f"reverse:{upstream.url}", workers=2).start()
    pids = worker_pids(px)
    px.proc.send_signal(signal.SIGTERM)
    assert px.proc.wait(30) == 0, px.log()[-2000:]
    px.stop()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_worker_that_dies_is_reported_and_the_supervisor_exits_1(upstream):
    import os
    import signal

    px = ProxyProcess(mode=f"reverse:{upstream.url}", workers=2).start()
    try:
        victim, other = worker_pids(px)
        os.kill(victim, signal.SIGKILL)
        assert px.proc.wait(30) == 1
        px.stop()
        assert f"worker 0 (pid {victim}) exited with status -9; stopping the other workers" in px.log()
        with pytest.raises(ProcessLookupError):
            os.kill(other, 0)
    finally:
        px.stop()


def test_bad_plan_stops_start_up_with_one_error(upstream, tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text("rules:\n  - fault: status code=503\n    gates: everywhere\n")
    px = ProxyProcess(mode=f"reverse:{upstream.url}", workers=2, options={"fault_plan": str(plan)})
    with pytest.raises(RuntimeError):
        px.start(timeout=30)
    assert px.proc.returncode == 1
    log = px.log()
    assert log.count("gates='everywhere': expected one of worker, global") == 1, log  # worker 0 alone said it
    assert "worker 0 exited with status 1 while starting" in log


def test_toxiproxy_api_is_refused_with_workers(upstream):
    px = ProxyProcess(mode=f"reverse:{upstream.url}", workers=2, options={"toxiproxy_api": "127.0.0.1:0"})
    with pytest.raises(RuntimeError):
        px.start(timeout=30)
    assert px.proc.returncode == 1
    assert "toxiproxy_api: Toxiproxy's API cannot run in faults proxy --workers N" in px.log()


def test_workers_on_every_address(upstream):
    import httpx

    px = ProxyProcess(mode=f"reverse:{upstream.url}", workers=2, extra_args=["--listen-host", ""]).start()
    try:
        assert any("faults: workers: 2 ready, listening at *:" in ln for ln in px.lines), px.log()
        assert httpx.get(f"http://127.0.0.1:{px.port}/x", timeout=5).status_code == 200
    finally:
        assert px.stop() == 0
