"""The pytest plugin, as its users run it: pytest in a subprocess.

Runs the example suite (examples/), and small suites that check the promises:
no fault leaks into the next test, ``expect`` fails with a readable table,
bad rules are refused, and with a seed the same requests get the same faults
run after run, even when the rules change between tests.
"""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_pytest(args, cwd, timeout=240):
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr


def write_suite(tmp_path, body: str) -> Path:
    (tmp_path / "conftest.py").write_text(textwrap.dedent('''
        import pytest
        from faults.tools.upstream import Upstream

        @pytest.fixture(scope="session")
        def upstream_url():
            with Upstream() as up:
                yield up.url
    '''))
    (tmp_path / "test_suite.py").write_text("import httpx, json, pytest\n" + textwrap.dedent(body))
    return tmp_path


def test_example_suite_passes():
    rc, out = run_pytest(["examples", "-q"], ROOT)
    assert rc == 0, out[-4000:]
    assert "9 passed" in out and "fault_proxy seed: 1" not in out  # -q hides the header
    rc, out = run_pytest(["examples", "-q", "-k", "reverse", "-v"], ROOT)
    assert rc == 0 and "fault_proxy seed: 1" in out, out[-3000:]


LEAK = '''
def test_a_sets_and_forgets(fault_proxy, upstream_url):
    fault_proxy.set("status code=503")
    with httpx.Client(proxy=fault_proxy.url) as c:
        assert c.get(upstream_url + "/x").status_code == 503

def test_b_is_clean(fault_proxy, upstream_url):
    assert [r for r in fault_proxy.rules() if r["source"] == "runtime"] == []
    with httpx.Client(proxy=fault_proxy.url) as c:
        assert c.get(upstream_url + "/y").status_code == 200
    recs = fault_proxy.flows()
    assert [r["url"].rsplit("/", 1)[1] for r in recs] == ["y"]  # only this test's flows
    assert fault_proxy.report()["codes"] == {0: 1}

def test_c_bad_rule_is_refused(fault_proxy):
    from faults.tools.pytest_plugin import FaultSpecError
    fault_proxy.set("status code=503")
    with pytest.raises(FaultSpecError, match="unknown key 'cod'"):
        fault_proxy.set("status cod=503")
    assert [r["fault"] for r in fault_proxy.rules() if r["source"] == "runtime"] == ["status code=503"]

def test_d_yaml_plan(fault_proxy, upstream_url):
    fault_proxy.set("rules:\\n  - name: teapot\\n    match: '~u /tea'\\n    fault: status code=418\\n")
    with httpx.Client(proxy=fault_proxy.url) as c:
        assert c.get(upstream_url + "/tea").status_code == 418
    [rec] = fault_proxy.expect(fault="status code=418", count=1)
    assert rec["rule"] == "teapot"
'''


def test_faults_do_not_leak_between_tests(tmp_path):
    rc, out = run_pytest(["-q", str(write_suite(tmp_path, LEAK))], tmp_path)
    assert rc == 0, out[-4000:]
    assert "4 passed" in out


FAILING = '''
def test_expect_fails_readably(fault_proxy, upstream_url):
    fault_proxy.set("|~u /api|status code=503")
    with httpx.Client(proxy=fault_proxy.url) as c:
        c.get(upstream_url + "/api/a")
        c.get(upstream_url + "/home")
    fault_proxy.expect(code=1220, count=1, timeout=1)
'''


def test_expect_failure_is_a_readable_table(tmp_path):
    rc, out = run_pytest(["-q", str(write_suite(tmp_path, FAILING))], tmp_path)
    assert rc == 1, out[-3000:]
    assert "fault_proxy.expect(code=1220): expected 1 matching flow(s), got 0" in out, out[-3000:]
    assert "k6 codes of all 2 flow(s)" in out and "0: 1, 1503: 1" in out
    assert "status code=503" in out and "/api/a" in out and "/home" in out
    assert "Traceback" not in out  # a failure message, not a stack dump of the plugin


SEEDED = '''
import os
OUT = os.environ["SEQ_OUT"]

def record(name, codes):
    with open(OUT, "a") as fh:
        fh.write(json.dumps([name, codes]) + "\\n")

def run(fault_proxy, upstream_url, path, n=24):
    with httpx.Client(proxy=fault_proxy.url) as c:
        return [c.get(f"{upstream_url}{path}{i}").status_code for i in range(n)]

def test_1(fault_proxy, upstream_url):
    fault_proxy.set("|~u /one|status code=503 probability=0.5", "|~u /two|status code=502 probability=0.5")
    record("1", run(fault_proxy, upstream_url, "/one/"))

def test_2(fault_proxy, upstream_url):
    fault_proxy.set("|~u /two|status code=502 probability=0.3")
    record("2", run(fault_proxy, upstream_url, "/two/"))
    fault_proxy.set("|~u /two|status code=502 probability=0.3")  # set again mid-test: same draws again
    record("2b", run(fault_proxy, upstream_url, "/two/"))
'''


def test_same_seed_same_faults_run_after_run(tmp_path):
    suite = write_suite(tmp_path, SEEDED)
    import os

    def seq(*args, seed=5):
        out = tmp_path / f"seq-{len(list(tmp_path.glob('seq-*')))}.jsonl"
        env_args = ["-q", str(suite), f"--fault-seed={seed}", *args]
        os.environ["SEQ_OUT"] = str(out)
        try:
            rc, text = run_pytest(env_args, tmp_path)
        finally:
            del os.environ["SEQ_OUT"]
        assert rc == 0, text[-3000:]
        return {name: codes for name, codes in map(json.loads, out.read_text().splitlines())}

    a, b = seq(), seq()
    assert a == b
    assert {200, 503} <= set(a["1"]) and {200, 502} <= set(a["2"])
    assert a["2"] == a["2b"]
    # rules changed before test_2 in the full run; alone it still gets the same faults
    assert seq("-k", "test_2")["2"] == a["2"]
    assert seq(seed=6)["1"] != a["1"]


WORKERS = '''
def test_rules_reach_every_worker(fault_proxy, upstream_url):
    fault_proxy.set("|~u /w|status code=503 first=1 gates=global", "|~u /all|status code=429")
    codes = []
    for i in range(24):  # a new connection each time: the kernel picks a worker
        with httpx.Client(proxy=fault_proxy.url) as c:
            codes.append(c.get(f"{upstream_url}/w{i}").status_code)
            assert c.get(f"{upstream_url}/all{i}").status_code == 429
    assert codes.count(503) == 1
    recs = fault_proxy.flows()
    assert len(recs) == 48 and {r["worker"] for r in recs} == {"0", "1"}
    fault_proxy.expect(fault="status code=503", count=1)

def test_next_test_is_clean_on_every_worker(fault_proxy, upstream_url):
    for i in range(24):  # both workers (each connection is one draw of the kernel's hash)
        with httpx.Client(proxy=fault_proxy.url) as c:
            assert c.get(f"{upstream_url}/all{i}").status_code == 200
    assert {r["worker"] for r in fault_proxy.flows()} == {"0", "1"}
'''


def test_fault_workers_runs_the_fixture_as_two_workers(tmp_path):
    rc, out = run_pytest(["-v", "--fault-workers", "2"], write_suite(tmp_path, WORKERS))
    assert rc == 0, out[-4000:]
    assert "fault_proxy seed: 1 (--fault-seed N), 2 workers" in out and "2 passed" in out
