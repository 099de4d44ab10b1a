"""mitmproxy reloads a script whose file changed: the faults go on, with nothing broken.

A reload removed the old addon and could not register the new one ("An addon called
'faultworkers' already exists": the old children's names were dropped only in an async
``done`` that a reload never awaits), so every fault stopped, with a traceback in the log.
And the reload's ``done`` must not stop the proxy's servers, as the exit's does.

The new addon takes over what must outlive the old one (``faults.addons.succession``): under
the two features that hold listeners of their own, the Toxiproxy API (its server and its
proxies, runtime mitmproxy listeners) and ``faults proxy --workers N`` (the shared listener,
the control fan-out sockets), and the run's state (runtime rules, the summary's counts, the
metrics, the flows /expect reads). Each test fails without it (docs/usage.md)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import sys
import time
import urllib.request

import httpx

from faults.tools.launch import ADDON, ProxyProcess
from faults.tools.upstream import Upstream
from tests.e2e.toxiproxy_support import Echo, round_trip, start_toxiproxy
from tests.e2e.waiting import read_records
from tests.waiting import wait_until

BAD = ("Traceback", "already exists", "never awaited", "address already in use", "cannot listen")


def _through(px: ProxyProcess, url: str) -> tuple[int, bytes]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": f"http://127.0.0.1:{px.port}"}))
    try:
        with opener.open(url, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _copy_of_the_addon(tmp_path):
    """A script this test may touch (the package's own addon.py is every other test's)."""
    script = tmp_path / "faults_script.py"
    shutil.copyfile(ADDON, script)
    return script


def _touch(script) -> None:
    later = max(time.time(), script.stat().st_mtime) + 5
    os.utime(script, (later, later))  # mitmproxy polls the file's mtime (every second)


def _reload(px: ProxyProcess, script, addons: int = 1) -> None:
    """Touch ``script``; back once each of the ``addons`` reloaded addons said what is active."""
    before = px.log().count("faults: active:")
    _touch(script)
    wait_until(lambda: px.log().count("faults: active:") >= before + addons, 30, "the reloaded addons' start lines",
               seen=lambda: px.log()[-2000:])


def _clean(log: str) -> None:
    for bad in BAD:
        assert bad not in log, (bad, log[-3000:])


def test_faults_go_on_after_a_script_reload(tmp_path):
    """The fault, the servers, one summary for the whole run, /expect over both flows."""
    script = _copy_of_the_addon(tmp_path)
    with Upstream() as up:
        with ProxyProcess(addon=script, options={"faults": ["status code=503"], "fault_control": True}) as px:
            assert _through(px, f"{up.url}/a?size=5")[0] == 503
            _reload(px, script)
            assert _through(px, f"{up.url}/b?size=5")[0] == 503
            # /expect looks at the flows since the rules changed: the one before the reload too
            status, body = _through(px, "http://faults.control/expect?code=1503&count=2&timeout=5")
            assert status == 200, body
        log = px.log()
    assert px.proc.returncode == 0, log[-3000:]
    assert log.count(f"Loading script {script}") == 2, log[-3000:]
    _clean(log)
    assert log.count(" stopped.") == 1, log[-3000:]  # the servers stopped at the exit, not at the reload
    assert log.count("fault summary:") == 1 and "fault summary: 2 flows, 2 faulted" in log, log[-3000:]  # the run's
    assert log.count("faults: script reloaded:") == 1, log[-3000:]  # what a reload keeps, and what not


def test_toxiproxy_api_and_its_proxies_go_on_after_a_script_reload(tmp_path):
    """The API answers on the same port (asked as port 0), the proxies made before the reload
    (through the API, and from ``toxiproxy_config`` on a fixed port: made again, it would find
    the port taken) are still its own (listed, their toxics applied), and a new one can be made."""
    script = _copy_of_the_addon(tmp_path)
    echo = Echo()
    config = tmp_path / "toxiproxy.json"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        configured = f"127.0.0.1:{s.getsockname()[1]}"
    config.write_text(json.dumps([{"name": "configured", "listen": configured, "upstream": echo.addr}]))
    px = start_toxiproxy(tmp_path, addon=script, toxiproxy_config=str(config))
    api = httpx.Client(base_url=f"http://127.0.0.1:{px.api_port}", trust_env=False, timeout=10)

    def proxy_with_a_toxic(name: str) -> str:
        made = api.post("/proxies", json={"name": name, "listen": "127.0.0.1:0", "upstream": echo.addr})
        assert made.status_code == 201, made.text
        toxic = api.post(f"/proxies/{name}/toxics", json={"type": "limit_data", "attributes": {"bytes": 3}})
        assert toxic.status_code == 200, toxic.text
        return made.json()["listen"]

    try:
        before = proxy_with_a_toxic("before")
        assert round_trip(before)[0] == b"hel"  # limit_data: the connection ends after 3 bytes down
        _reload(px, script)
        listed = api.get("/proxies").json()  # the same port: the same client
        assert set(listed) == {"before", "configured"}, listed
        assert round_trip(configured)[0] == b"hello"
        assert listed["before"]["listen"] == before, listed
        assert [t["type"] for t in listed["before"]["toxics"]] == ["limit_data"], listed
        assert round_trip(before)[0] == b"hel"
        after = proxy_with_a_toxic("after")
        assert round_trip(after)[0] == b"hel"
        # an edit that does not load: no addon until the next good one, which finds it all as it was
        good = script.read_text()
        script.write_text(good + "\nnot python\n")
        _touch(script)
        wait_until(lambda: "error in script" in px.log(), 30, "the broken edit's error", seen=lambda: px.log()[-2000:])
        assert set(api.get("/proxies").json()) == {"before", "configured", "after"}  # nothing closed
        script.write_text(good)
        _reload(px, script)
        assert set(api.get("/proxies").json()) == {"before", "configured", "after"}
        assert round_trip(before)[0] == b"hel"
    finally:
        api.close()
        px.stop()
        echo.close()
    log = px.log()
    assert px.proc.returncode == 0, log[-3000:]
    assert log.count(f"Loading script {script}") == 4, log[-3000:]
    assert log.count("toxiproxy API listening at") == 1, log[-3000:]  # kept, not served anew
    _clean(log.replace("Traceback", "", 1))  # the broken edit's, from mitmproxy


SUPERVISE = ("import sys; from pathlib import Path; from faults.tools.workers import Supervisor; "
             "sys.exit(Supervisor(int(sys.argv[1]), sys.argv[3:], addon=Path(sys.argv[2])).run())")


class WorkersOf(ProxyProcess):
    """``faults proxy --workers N`` whose workers load ``script`` (``faults proxy`` loads the
    package's own addon.py, which this test must not touch)."""

    def __init__(self, script, **kwargs):
        super().__init__(**kwargs)
        self.script = script

    def args(self) -> list[str]:
        return [sys.executable, "-c", SUPERVISE, str(self.workers), str(self.script), *self._mitmdump_args()[1:]]


TOKEN = "tok-reload"
METRICS_RE = re.compile(r"faults: metrics at (http://[\d.]+:\d+)/metrics")


def _control(px: ProxyProcess, method: str, path: str, body: str | None = None) -> dict:
    answer = httpx.request(method, f"{px.url}{path}", content=body, timeout=10, trust_env=False,
                           headers={"Host": "faults.control", "Authorization": f"Bearer {TOKEN}",
                                    "Connection": "close"})  # a new connection each time: the kernel picks a worker
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_workers_keep_and_take_runtime_rules_across_a_script_reload(tmp_path, upstream):
    """Every worker reloads (they load the same file). A rule set through the control endpoint
    before the reload is still in force on both workers after it (it ended with the old addon),
    and one added after it reaches both through the kept fan-out sockets; each faults the
    requests either worker serves."""
    script = _copy_of_the_addon(tmp_path)
    rep = tmp_path / "report.jsonl"
    px = WorkersOf(script, mode=f"reverse:{upstream.url}", workers=2, options={
        "fault_control": True, "fault_control_token": TOKEN, "fault_report": str(rep), "keep_host_header": True,
        "fault_metrics": "127.0.0.1:0"})
    with px:
        _control(px, "POST", "/rules", "|~u /before|status code=429\n")  # 200: both workers applied it
        _reload(px, script, addons=2)
        _control(px, "POST", "/rules?append=1", "|~u /after|status code=418\n")
        seen: dict[str, list] = {}

        def each_worker_answered():
            got = _control(px, "GET", "/rules")
            seen[got["worker"]] = [r["fault"] for r in got["rules"]]
            return len(seen) == 2
        wait_until(each_worker_answered, 30, "a control answer from each worker", seen=lambda: seen)
        assert all(rules == ["status code=429", "status code=418"] for rules in seen.values()), seen
        for path, code in (("before", 429), ("after", 418)):
            statuses = []

            def each_worker_served():
                statuses.append(httpx.get(f"{px.url}/{path}?n={len(statuses)}", timeout=10, trust_env=False,
                                          headers={"Connection": "close"}).status_code)  # the kernel picks a worker
                flows = [r for r in read_records(rep)
                         if r.get("record") == "flow" and f"/{path}?" in (r.get("url") or "")]
                return len({r["worker"] for r in flows}) == 2
            wait_until(each_worker_served, 30, f"a /{path} request served by each worker", seen=lambda: statuses)
            assert set(statuses) == {code}, (path, statuses)
        metrics = METRICS_RE.search(px.log())  # worker 0 serves every worker's counts, on since the start
        scraped = httpx.get(f"{metrics.group(1)}/metrics", timeout=10, trust_env=False).text
        assert 'faults_flows_total{k6_code="1429"}' in scraped, scraped
    log = px.log()
    assert px.proc.returncode == 0, log[-3000:]
    assert log.count(f"Loading script {script}") == 4, log[-3000:]
    assert sum(") listening at " in ln and "(worker " in ln for ln in px.lines) == 2, log[-3000:]  # kept
    assert len(METRICS_RE.findall(log)) == 1, log[-3000:]  # kept, not served anew
    _clean(log)
