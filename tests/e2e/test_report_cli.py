"""`python -m faults report` on a real k6 --out json file from a run through the
proxy with mixed faults, and on the proxy's own report of the same run."""

import collections
import json
import os
import subprocess
import sys

from faults.tools import k6run

from .waiting import wait_connections_closed, wait_for_records

SCRIPT = r"""
import http from 'k6/http';
const specs = JSON.parse(__ENV.SPECS);
export const options = { iterations: specs.length, vus: 1, noVUConnectionReuse: true };
export default function () {
  const spec = specs[__ITER];
  const headers = spec ? { 'x-fault': spec } : {};
  http.get(`${__ENV.BASE}/r?i=${__ITER}`, { headers: headers, timeout: '2s' });
}
"""
SPECS = ["status code=503"] * 3 + ["reset when=mid_body"] * 2 + ["status code=404"] + ["bad_gzip"] + [""] * 5


def test_report_counts_a_real_k6_run_through_the_proxy(proxy, tmp_path):
    (tmp_path / "s.js").write_text(SCRIPT)
    out = tmp_path / "k6.json"
    env = dict(os.environ, SPECS=json.dumps(SPECS), BASE=f"http://127.0.0.1:{proxy.port}", K6_NO_USAGE_REPORT="true")
    r = subprocess.run([k6run.k6_path(), "run", "--quiet", "--no-summary", f"--out=json={out}", str(tmp_path / "s.js")],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    # what k6 itself recorded, straight from its JSON points
    truth = collections.Counter()
    for line in out.read_text().splitlines():
        p = json.loads(line)
        if p.get("type") == "Point" and p.get("metric") == "http_reqs":
            truth[int(p["data"]["tags"].get("error_code") or 0)] += 1
    assert truth == {1503: 3, 1220: 2, 1404: 1, 1701: 1, 0: 5}
    mine = lambda recs: [r for r in recs if "/r?i=" in (r.get("url") or "")]  # noqa: E731
    wait_connections_closed(proxy)  # k6 is done: each of its requests is recorded
    recs = mine(wait_for_records(proxy.report_path, lambda recs: len(mine(recs)) >= len(SPECS), "a record per request"))
    ours = collections.Counter(r["k6_error_code"] for r in recs)
    assert ours == truth  # the proxy's annotations of the same run

    rep = subprocess.run([sys.executable, "-m", "faults", "report", str(out), "--format", "json"],
                         capture_output=True, text=True, timeout=60)
    assert rep.returncode == 0, rep.stderr
    counts = _counts(json.loads(rep.stdout))
    assert counts == dict(truth)

    text = subprocess.run([sys.executable, "-m", "faults", "report", str(out)], capture_output=True, text=True, timeout=60)
    assert "1220" in text.stdout and "reset" in text.stdout.lower() and "%" in text.stdout


def _counts(doc) -> dict:
    rows = doc["outcomes"] if isinstance(doc, dict) and "outcomes" in doc else doc
    out = collections.Counter()
    for row in rows:
        out[int(row["k6_error_code"])] += int(row["count"])
    return dict(out)
