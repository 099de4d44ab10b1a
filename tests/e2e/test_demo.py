"""The README's main job: the demo runs k6 through the proxy and every
annotation equals what k6 reported (it exits 1 on any mismatch)."""

import os
import subprocess
import sys


def test_demo_once_matches_k6(tmp_path):
    env = dict(os.environ, TMPDIR=str(tmp_path))
    r = subprocess.run([sys.executable, "-m", "faults.tools.demo", "--once"], capture_output=True, text=True,
                       timeout=240, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "all annotations match k6" in r.stdout
    rows = [line for line in r.stdout.splitlines() if line.startswith("/demo/")]
    assert len(rows) == 2 * 15 and all(" yes " in line for line in rows)
    assert any("1622" in line and "HTTP/2" in line for line in rows)  # the GOAWAY row on HTTP/2
    assert any("status code=503 retry_after=2 body='try later'" in line for line in rows)  # names never cut
    assert list(tmp_path.iterdir()) == []  # its temp folder (mitmproxy's CA key) is gone
