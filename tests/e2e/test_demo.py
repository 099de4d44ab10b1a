"""The README's main job: the demo runs k6 through the proxy and every
annotation equals what k6 reported (it exits 1 on any mismatch)."""

import subprocess
import sys


def test_demo_once_matches_k6():
    r = subprocess.run([sys.executable, "-m", "faults.tools.demo", "--once"], capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "all annotations match k6" in r.stdout
    rows = [line for line in r.stdout.splitlines() if line.startswith("/demo/")]
    assert len(rows) == 2 * 15 and all(" yes " in line for line in rows)
    assert any("1622" in line and "HTTP/2" in line for line in rows)  # the GOAWAY row on HTTP/2
