"""toxiproxy-node-client 4.1.0 (npm), unchanged, against this proxy's Toxiproxy API.

The fixture installs it from ``tests/e2e/toxiproxy_node/package.json`` into a
temporary folder (``npm install --prefix``); ``check.js`` drives it (create,
every toxic on real TCP, update, disable/enable, populate, reset, remove) and
prints what it measured. Skipped, saying why, only when npm cannot reach its
registry or node is missing."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.toxiproxy_support import Echo, start_toxiproxy

HERE = Path(__file__).with_name("toxiproxy_node")


@pytest.fixture(scope="module")
def node_client(tmp_path_factory):
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("node/npm not installed (toxiproxy-node-client needs node >= 18)")
    major = int(subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip().lstrip("v").split(".")[0])
    if major < 18:
        pytest.skip(f"node {major} is too old for toxiproxy-node-client 4.1.0 (node >= 18, for fetch)")
    folder = tmp_path_factory.mktemp("node-client")
    for name in ("package.json", "check.js"):
        shutil.copy(HERE / name, folder / name)
    r = subprocess.run([npm, "install", "--prefix", str(folder), "--no-audit", "--no-fund", "--loglevel=error"],
                       capture_output=True, text=True, timeout=180)
    if r.returncode != 0:
        if any(s in r.stderr for s in ("ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ETIMEDOUT", "network")):
            pytest.skip(f"npm registry unreachable: {r.stderr.strip().splitlines()[-1]}")
        pytest.fail(f"npm install failed:\n{r.stderr}")
    return node, folder


def test_node_client_drives_every_route_and_toxic(node_client, tmp_path):
    node, folder = node_client
    echo = Echo()
    px = start_toxiproxy(tmp_path)
    try:
        r = subprocess.run([node, str(folder / "check.js"), f"http://127.0.0.1:{px.api_port}", echo.addr],
                           capture_output=True, text=True, timeout=60, cwd=folder)
    finally:
        px.stop()
        echo.close()
    assert r.returncode == 0, r.stderr + px.log()[-2000:]
    out = json.loads(r.stdout)
    assert json.loads(out["version"]) == {"version": "2.12.0"}
    assert out["listen"].startswith("127.0.0.1:") and out["enabled"] is True  # "localhost:0" resolved
    # time is only bounded from below (the delay happened); "complete"/"eof": within the 3 s wait
    assert out["plain"] == {**out["plain"], "data": "hello", "end": "complete"}
    assert out["latency_toxic"] == {"attributes": {"latency": 300, "jitter": 0}, "name": "lat",
                                    "stream": "downstream", "toxicity": 1, "type": "latency"}
    assert out["latency"]["data"] == "hello" and out["latency"]["ms"] >= 300
    assert out["updated_toxic"]["attributes"] == {"latency": 600000, "jitter": 0}
    assert out["latency_updated"] == {**out["latency_updated"], "bytes": 0, "end": "timeout"}  # held: updated
    assert out["bandwidth"]["bytes"] == 50000 and out["bandwidth"]["ms"] >= 450  # 50 KB at 100 KB/s
    assert out["timeout"]["end"] == "eof" and out["timeout"]["bytes"] == 0 and out["timeout"]["ms"] >= 180
    assert out["reset_peer"]["end"] == "ECONNRESET"
    assert out["limit_data"] == {**out["limit_data"], "data": "01234", "end": "eof"}
    assert out["slicer"]["bytes"] == 100 and out["slicer"]["chunks"] >= 6
    assert out["slow_close_toxic"]["attributes"] == {"delay": 10}
    assert out["disabled"]["enabled"] is False and out["disabled"]["conn"]["end"] == "ECONNREFUSED"
    assert out["reenabled"]["enabled"] is True and out["reenabled"]["conn"]["data"] == "hello"
    assert out["populated"] == ["pop"]
    assert out["after_reset"]["enabled"] is True and out["after_reset_toxics"] == []
    assert out["missing"] == "Request failed with status code 404"
    assert out["after_remove"] == []
    assert out["removed_conn"]["end"] == "ECONNREFUSED"
    assert "Traceback" not in px.log()
