"""The suite's own parallel run (./test.sh: pytest-xdist, --dist loadgroup): an end-to-end
module's tests run on one worker, so its module-scoped proxy starts once. Checked on a
throwaway suite that uses this suite's grouping hook, so an xdist or pytest upgrade that
breaks the grouping (pytest 9.2 did) fails here rather than slowing the suite silently."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, os, pytest

@pytest.fixture(scope="module")
def shared():
    return object()

def _note(request):
    with open(os.environ["PROBE_OUT"], "a") as f:
        f.write(json.dumps([request.node.nodeid, os.environ.get("PYTEST_XDIST_WORKER")]) + "\\n")
""" + "".join(f"\ndef test_{i}(request, shared):\n    _note(request)\n" for i in range(6))


def run_in_parallel(suite: Path) -> list:
    """Run ``suite`` as ./test.sh does (2 workers, loadgroup); [nodeid, worker] per probe test."""
    out = suite / "seen.jsonl"
    env = {**os.environ, "PROBE_OUT": str(out), "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-q",
                        "-p", "no:cacheprovider", str(suite)], cwd=suite, env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_an_e2e_module_runs_on_one_worker(tmp_path):
    (tmp_path / "conftest.py").write_text("from tests.conftest import pytest_itemcollected  # noqa: F401\n")
    (tmp_path / "e2e").mkdir()
    (tmp_path / "e2e" / "test_probe.py").write_text(PROBE)
    (tmp_path / "unit").mkdir()
    (tmp_path / "unit" / "test_free.py").write_text("".join(f"def test_{i}():\n    pass\n" for i in range(6)))
    seen = run_in_parallel(tmp_path)
    assert len(seen) == 6
    assert all(nodeid.endswith("@e2e/test_probe.py") for nodeid, _ in seen), seen
    assert len({worker for _, worker in seen}) == 1, seen


def test_tests_without_module_state_spread(tmp_path):
    """An e2e test that shares no module-scoped fixture is not grouped (it may run anywhere)."""
    (tmp_path / "conftest.py").write_text("from tests.conftest import pytest_itemcollected  # noqa: F401\n")
    (tmp_path / "e2e").mkdir()
    (tmp_path / "e2e" / "test_free.py").write_text(PROBE.replace("(request, shared)", "(request)"))
    seen = run_in_parallel(tmp_path)
    assert len(seen) == 6 and not any("@" in nodeid for nodeid, _ in seen), seen
