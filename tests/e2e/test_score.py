"""faults score against real clients whose behaviour is known from their own configuration
and their own logs: every row must equal what the client did (attempts, intervals within
noise, re-sent methods, exit status, hangs). One score run per test (one proxy each), a few
faults per client, so xdist can spread them; the default suite runs once, with curl.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from faults.score import score
from faults.score.runner import Options

PY = sys.executable
def waited(row, *want_ms: int) -> bool:
    """The row's intervals are the client's waits between its attempts: each at least the wait
    it was meant to be (sleeps are never early; 30 ms for the proxy's clock and rounding) and,
    all together, within the run (counted between attempts, not from further back). No upper
    bound on time: a loaded machine stretches every interval."""
    got = row["intervals_ms"]
    return (len(got) == len(want_ms) and all(ms >= want - 30 for ms, want in zip(got, want_ms))
            and sum(got) <= row["duration_ms"])


def rows_by_fault(rows):
    return {r["fault"]: r for r in rows}


def script(tmp_path: Path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return str(p)


def log_lines(row, prefix: str) -> list[str]:
    return [ln for ln in row["stderr_tail"] if ln.startswith(prefix)]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl_with_retry():
    """curl --retry 1 --retry-delay 1 re-sends a 503 once, 1 s later, and not a reset (not a
    transient error for curl); curl says so itself ("Will retry in 1 seconds")."""
    faults = ["status code=503", "reset when=before_response"]  # plain curl: test_default_suite_with_curl
    retry = rows_by_fault(score(["curl", "--no-progress-meter", "--retry", "1", "--retry-delay", "1",
                                 "$FAULTS_URL/"], faults).rows)
    r503 = retry["status code=503"]
    curl_says = log_lines(r503, "Warning: Problem : HTTP error. Will retry in 1 seconds")
    assert r503["attempts"] == 2 == len(curl_says) + 1, r503
    assert waited(r503, 1000), r503
    assert r503["methods"] == ["GET"] * 2 and r503["resent_methods"] == ["GET"]
    assert r503["exit_code"] == 0 and not r503["hung"]
    assert r503["gave_up_ms"] is not None and r503["gave_up_ms"] >= 1000
    reset = retry["reset when=before_response"]
    assert reset["attempts"] == 1 and reset["exit_code"] == 56 and reset["new_connection"] is None


REQUESTS_CLIENT = """
    import logging, os, sys
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    logging.basicConfig(format="%(message)s")
    logging.getLogger("urllib3.util.retry").setLevel(logging.DEBUG)  # one line per retry
    s = requests.Session()
    s.mount("http://", HTTPAdapter(max_retries=Retry(total=2, backoff_factor=0.2, status_forcelist=[503],
                                                     respect_retry_after_header=True)))
    try:
        r = s.get(os.environ["FAULTS_URL"] + "/", timeout=5)
    except requests.exceptions.RetryError as e:
        print("gave up:", type(e).__name__, file=sys.stderr)
        sys.exit(3)
    print("status", r.status_code, file=sys.stderr)
"""


def test_requests_urllib3_retry(tmp_path):
    """urllib3 2.x Retry(total=2, backoff_factor=0.2): the first retry at once, the second after
    0.2 * 2 = 0.4 s; with Retry-After: 1 both wait 1 s. Its own DEBUG log counts the retries."""
    path = script(tmp_path, "client.py", REQUESTS_CLIENT)
    rows = rows_by_fault(score([PY, path], ["status code=503", "status code=503 retry_after=1",
                                            "status code=500"]).rows)
    plain, after, other = rows["status code=503"], rows["status code=503 retry_after=1"], rows["status code=500"]
    for row in (plain, after):
        urllib3_says = log_lines(row, "Incremented Retry for")
        assert row["attempts"] == 3 == len(urllib3_says) + 1, row
        assert row["exit_code"] == 3 and row["stderr_tail"][-1] == "gave up: RetryError"
    assert waited(plain, 0, 400), plain
    assert plain["retry_after_honoured"] is None  # nothing announced one
    assert waited(after, 1000, 1000) and after["retry_after_honoured"] is True, after
    assert other["attempts"] == 1 and other["stderr_tail"][-1] == "status 500"  # not in status_forcelist


HTTPX_CLIENT = """
    import os, sys
    import httpx
    try:
        r = httpx.get(os.environ["FAULTS_URL"] + "/", timeout=1.0)
    except httpx.HTTPError as e:
        print("error", type(e).__name__, file=sys.stderr)
        sys.exit(1)
    print("status", r.status_code, file=sys.stderr)
"""


def test_httpx_without_retries(tmp_path):
    """httpx sends once whatever happens; its own exception is what the annotation predicts;
    with a 1 s timeout it gives up on a hang by itself (not hung)."""
    path = script(tmp_path, "client.py", HTTPX_CLIENT)
    faults = ["status code=503", "reset when=before_response", "close when=mid_body", "hang"]
    rows = rows_by_fault(score([PY, path], faults, options=Options(timeout=5)).rows)
    for f in faults:
        assert rows[f]["attempts"] == 1 and rows[f]["intervals_ms"] == [], rows[f]
    assert rows["status code=503"]["exit_code"] == 0 and rows["status code=503"]["stderr_tail"] == ["status 503"]
    for f in ("reset when=before_response", "close when=mid_body"):
        assert rows[f]["exit_code"] == 1
        assert rows[f]["stderr_tail"] == [f"error {rows[f]['clients']['httpx']}"], rows[f]
    hang = rows["hang"]
    assert not hang["hung"] and hang["exit_code"] == 1 and hang["stderr_tail"] == ["error ReadTimeout"]
    assert hang["gave_up_ms"] >= 1000 - 30, hang  # its 1 s timeout (ReadTimeout, in its own words above)


NODE_CLIENT = """
    const url = process.env.FAULTS_URL + "/";
    for (let i = 1; i <= 3; i++) {
      try {
        const res = await fetch(url);
        await res.text();
        console.error(`attempt ${i}: ${res.status}`);
        if (res.status < 500) process.exit(0);
      } catch (e) {
        console.error(`attempt ${i}: ${e.cause ? e.cause.code : e.name}`);
      }
      if (i < 3) await new Promise((r) => setTimeout(r, 300));
    }
    process.exit(2);
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node not installed")
def test_node_fetch_retry_loop(tmp_path):
    """Three tries 300 ms apart on a 5xx or an error; a reset is retried on a new connection."""
    path = script(tmp_path, "client.mjs", NODE_CLIENT)
    rows = rows_by_fault(score(["node", path], ["status code=502", "reset when=before_response",
                                                "status code=503 first=1"]).rows)
    for f in ("status code=502", "reset when=before_response"):
        row = rows[f]
        assert row["attempts"] == 3 == len(log_lines(row, "attempt ")), row
        assert waited(row, 300, 300) and row["exit_code"] == 2, row
    assert log_lines(rows["reset when=before_response"], "attempt ") == [f"attempt {i}: ECONNRESET" for i in (1, 2, 3)]
    assert rows["reset when=before_response"]["new_connection"] is True
    once = rows["status code=503 first=1"]  # the retry succeeds: the client did not give up
    assert once["attempts"] == 2 and once["exit_code"] == 0 and once["gave_up_ms"] is None, once


K6_SCRIPT = """
    import http from 'k6/http';
    export const options = { iterations: 1, vus: 1 };
    export default function () {
      const res = http.get(__ENV.FAULTS_URL + '/', { timeout: '3s' });
      console.error(`k6 error_code ${res.error_code}`);
    }
"""


def test_k6(tmp_path):
    """k6 sends once, exits 0 whatever happened (no thresholds), and its error_code is the
    annotation's k6 code."""
    from faults.tools.k6run import k6_path

    path = script(tmp_path, "k6.js", K6_SCRIPT)
    cmd = [k6_path(), "run", "--quiet", "--no-summary", "--log-format=raw", path]
    faults = ["status code=503", "reset when=after_headers"]
    rows = rows_by_fault(score(cmd, faults, options=Options(timeout=20)).rows)
    for f in faults:
        row = rows[f]
        assert row["attempts"] == 1 and row["exit_code"] == 0, row
        assert log_lines(row, "k6 error_code") == [f"k6 error_code {row['k6_error_code']}"], row


POST_CLIENTS = """
    import os, sys, urllib.request, urllib.error, time
    url = os.environ["FAULTS_URL"] + "/orders"
    naive = sys.argv[1] == "naive"
    for i in range(3 if naive else 1):
        try:
            urllib.request.urlopen(urllib.request.Request(url, data=b"order=1", method="POST"), timeout=5)
            sys.exit(0)
        except (urllib.error.URLError, ConnectionError) as e:
            print(f"POST {i + 1} failed: {type(e).__name__}", file=sys.stderr)
        time.sleep(0.1)  # kept: the naive client's back-off between re-sends (the client under test)
    sys.exit(1)
"""

POLICY = """
max_attempts: 2
retry_methods: [GET, HEAD]
must_not_hang: true
overrides:
  status: {max_attempts: 3}
"""


def test_post_must_not_be_resent_cli_policy(tmp_path):
    """The CLI end to end: a careful client sends its POST once, a naive one re-sends it; the
    policy fails the naive one ("re-sent POST", "3 attempts > max_attempts 2"), the exit status
    is 1, and --json/--junit/--html/--baseline say the same."""
    path = script(tmp_path, "client.py", POST_CLIENTS)
    (tmp_path / "policy.yaml").write_text(POLICY)

    def run(mode: str, *extra: str):
        out = tmp_path / mode
        r = subprocess.run([PY, "-m", "faults", "score", "--faults", "reset when=before_response",
                            "--policy", str(tmp_path / "policy.yaml"), "--json", f"{out}.json",
                            "--junit", f"{out}.xml", "--html", f"{out}.html", *extra, "--", PY, path, mode],
                           capture_output=True, text=True, timeout=60)
        return r, json.loads(Path(f"{out}.json").read_text())

    careful, doc = run("careful")
    assert careful.returncode == 0, careful.stdout + careful.stderr
    (row,) = doc["rows"]
    assert row["attempts"] == 1 and row["methods"] == ["POST"] and row["resent_methods"] == []
    assert row["verdict"] == "pass" and row["exit_code"] == 1 and len(log_lines(row, "POST 1 failed")) == 1

    naive, doc = run("naive", "--baseline", str(tmp_path / "careful.json"))
    assert naive.returncode == 1, naive.stdout + naive.stderr
    (row,) = doc["rows"]
    assert row["attempts"] == 3 == len(log_lines(row, "POST ")) and row["resent_non_idempotent"] is True
    assert row["new_connection"] is True and waited(row, 100, 100), row
    assert row["verdict"] == "fail" and row["reasons"] == ["3 attempts > max_attempts 2", "re-sent POST"]
    assert {"attempts", "methods", "resent_methods"} <= set(row["changed"])
    assert "re-sent POST" in naive.stdout and "changed: attempts" in naive.stdout
    junit = (tmp_path / "naive.xml").read_text()
    assert 'failures="1"' in junit and 'name="reset when=before_response"' in junit and "re-sent POST" in junit
    html = (tmp_path / "naive.html").read_text()
    assert "re-sent POST" in html and "<script" not in html and "<link" not in html  # self-contained


def test_client_without_timeout_hangs_bounded():
    """A client with no timeout of its own hangs on `hang`: killed at --timeout, exit null,
    hung, and the run is bounded; a 503 is not a hang."""
    cmd = [PY, "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['FAULTS_URL'] + '/')"]
    rows = rows_by_fault(score(cmd, ["hang", "status code=503"], options=Options(timeout=2),
                               policy=None).rows)
    hang = rows["hang"]
    assert hang["hung"] is True and hang["exit_code"] is None and hang["attempts"] == 1, hang
    assert hang["duration_ms"] >= 2000  # hung: killed at --timeout (the hang never ends on its own)
    r503 = rows["status code=503"]
    assert not r503["hung"] and r503["exit_code"] == 1 and "HTTPError" in r503["stderr_tail"][-1]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_default_suite_with_curl(tmp_path):
    """The default suite, through the CLI, with plain curl (no retries: one attempt per fault;
    its hang bounded by --timeout)."""
    out = tmp_path / "rows.json"
    r = subprocess.run([PY, "-m", "faults", "score", "--timeout", "2", "--json", str(out), "--",
                        "curl", "-sS", "$FAULTS_URL/"], capture_output=True, text=True, timeout=110)
    assert r.returncode == 0, r.stdout + r.stderr
    from faults.score.suite import default_specs

    rows = json.loads(out.read_text())["rows"]
    assert [row["fault"] for row in rows] == default_specs()
    assert all(row["attempts"] == 1 for row in rows), [(row["fault"], row["attempts"]) for row in rows]
    hung = [row["fault"] for row in rows if row["hung"]]
    assert hung == ["delay ms=6000", "hang"]  # the delay outlasts --timeout 2 too
    exits = {row["fault"]: row["exit_code"] for row in rows}
    assert exits["status code=503"] == 0 and exits["reset when=before_response"] == 56
    # curl exited with what the annotation predicts for it (bad_gzip: the profile assumes
    # --compressed; without it curl does not decode, as its note says)
    for row in rows:
        curl = row["clients"].get("curl")
        if isinstance(curl, int) and not row["hung"] and row["fault"] != "bad_gzip":
            assert row["exit_code"] == curl, row
    assert re.search(r"19 faults in [\d.]+ s; 2 hung", r.stdout), r.stdout


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_tls_and_proxy_mode_with_curl():
    """--tls: an https FAULTS_URL with the proxy's CA in CURL_CA_BUNDLE, a certificate fault
    is one attempt with no request (curl 60); --proxy-mode: curl goes through http_proxy."""
    tls = rows_by_fault(score(["curl", "-sS", "$FAULTS_URL/"], ["tls cert=untrusted", "status code=503"],
                              options=Options(tls=True)).rows)
    assert tls["tls cert=untrusted"]["attempts"] == 1 and tls["tls cert=untrusted"]["methods"] == [None]
    assert tls["tls cert=untrusted"]["exit_code"] == 60 == tls["tls cert=untrusted"]["clients"]["curl"]
    assert tls["status code=503"]["exit_code"] == 0 and tls["status code=503"]["attempts"] == 1
    proxied = score(["curl", "-sS", "$FAULTS_URL/"], ["reset when=before_response"],
                    options=Options(proxy_mode=True))
    assert proxied.url.startswith("http://127.0.0.1:")
    (row,) = proxied.rows
    assert row["attempts"] == 1 and row["exit_code"] == 56, row


def test_fault_score_fixture_with_a_callable(fault_score):
    """The pytest fixture scores a Python callable (given FAULTS_URL) and returns the rows."""
    import httpx

    calls = []

    def client(url: str):
        calls.append(url)
        for attempt in range(2):
            r = httpx.get(url + "/api", timeout=1.0)
            if r.status_code < 500:
                return
        raise RuntimeError(f"still {r.status_code}")

    rows = fault_score(client, ["status code=503", "status code=503 first=1"],
                       policy={"max_attempts": 2, "must_not_hang": True})
    always, once = rows
    assert always["attempts"] == 2 and always["exit_code"] == 1 and always["verdict"] == "pass"
    assert always["stderr_tail"] == ["RuntimeError: still 503"]
    assert once["attempts"] == 2 and once["exit_code"] == 0 and once["gave_up_ms"] is None
    assert len(calls) == 3 and calls[0].startswith("http://127.0.0.1:")  # baseline + 2 runs
