"""DNS faults with curl and httpx resolving through the proxy's DNS mode (glibc's
resolver, its own resolv.conf in a private mount namespace), and the blackhole with
the real k6 (slow: k6's dialer gives up after 30 s)."""

import subprocess
import sys

import pytest

from faults.tools import k6run
from faults.tools.k6run import private_resolv

from .dns_support import dns_proxy, resolv_conf
from .waiting import wait_for_records

RULES = {"nx": "dns rcode=nxdomain", "servfail": "dns rcode=servfail", "empty": "dns answer=empty",
         "drop": "dns answer=drop", "refuse": "refuse", "blackhole": "blackhole"}
HTTPX = """
import sys, httpx
try:
    httpx.get(sys.argv[1], timeout=3)
    print("None")
except Exception as e:
    print(type(e).__name__, e)
"""


@pytest.fixture(scope="module")
def px(upstream, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dnsclients")
    with dns_proxy(upstream.url, tmp / "report.jsonl", [f"|~d ^{l}\\.|{s}" for l, s in RULES.items()]) as px:
        px.resolv = tmp / "resolv.conf"
        px.resolv.write_text(resolv_conf(px.ns))
        yield px
    assert "Traceback" not in px.log(), px.log()[-3000:]


def _records(px, name, qtypes=("A", "AAAA")):
    """The name's query records, once one of each of ``qtypes`` is there (a record is
    written when the query is answered or dropped; the client asked before it exited)."""
    mine = lambda recs: [r for r in recs if r["record"] == "dns" and r["name"] == name]  # noqa: E731
    return mine(wait_for_records(px.report_path, lambda recs: set(qtypes) <= {r["qtype"] for r in mine(recs)},
                                 f"the {'/'.join(qtypes)} query records of {name}"))


@pytest.mark.parametrize("label", RULES)
def test_curl_and_httpx_report_what_the_records_say(px, label):
    curl_url = f"http://{label}.curl.test:{px.port}/"
    p = subprocess.run(private_resolv(px.resolv) + ["curl", "-sS", "-m", "3", "-o", "/dev/null", curl_url],
                       capture_output=True, text=True, timeout=30)
    asked = ("A",) if label == "drop" else ("A", "AAAA")  # a dropped name: only its A query is recorded (measured)
    recs = _records(px, f"{label}.curl.test", asked)
    assert recs and all(r["fault"] == RULES[label] for r in recs)
    for r in recs:
        want = r["clients"]["curl"]
        assert p.returncode == want["error"], (p.stderr, want)
        assert want["message"] in p.stderr
    hx_url = f"http://{label}.httpx.test:{px.port}/"
    p = subprocess.run(private_resolv(px.resolv) + [sys.executable, "-c", HTTPX, hx_url],
                       capture_output=True, text=True, timeout=30)
    exc, _, text = p.stdout.strip().partition(" ")
    recs = _records(px, f"{label}.httpx.test", asked)
    assert recs
    for r in recs:
        want = r["clients"]["httpx"]
        assert exc == want["error"] and want["message"] in text, (p.stdout, p.stderr, want)


@pytest.mark.slow
def test_k6_blackhole_dial_timeout(px):
    """k6's dialer gives up after 30 s: 1211 with a longer request timeout, else 1050."""
    cases = [{"id": "long", "url": f"http://blackhole.long.test:{px.port}/", "timeout": "45s"},
             {"id": "short", "url": f"http://blackhole.short.test:{px.port}/", "timeout": "3s"}]
    got = k6run.run(cases, resolv_conf=resolv_conf(px.ns))
    (long_a, *_) = [r for r in _records(px, "blackhole.long.test", ("A",)) if r["qtype"] == "A"]
    assert got["long"]["error_code"] == long_a["k6_error_code"] == 1211
    assert got["long"]["error"] == long_a["k6_error"] == "dial: i/o timeout"
    (short_a, *_) = [r for r in _records(px, "blackhole.short.test", ("A",)) if r["qtype"] == "A"]
    assert {"error": got["short"]["error_code"], "message": got["short"]["error"]} in short_a["clients"]["k6"]["alt"]
    assert got["short"]["error_code"] == 1050
