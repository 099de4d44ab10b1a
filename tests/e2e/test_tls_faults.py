"""Every TLS fault, through the real mitmdump, with the real k6, curl and Python (httpx).

One proxy in reverse mode in front of the upstream. Each (case, client) pair
has its own host name ``<case>-<client>.test`` and a rule
``/~d ^<host>$/<spec> first=1``: the first connection to that host gets the
fault, the second one (the control, same host, same run) must succeed. Hosts
without a rule (``other.test``) are never touched. Each client's own error
must equal the annotation in the report: the k6 code and text for k6, the
record's ``clients`` prediction for curl and Python. Every failed handshake
is exactly one ``tls_handshake`` record.
"""

from __future__ import annotations

import re
import ssl
import subprocess
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from faults.tools import k6run
from faults.tools.launch import ProxyProcess

from .waiting import wait_connections_closed, wait_for_records

# case -> (spec, k6 code measured with k6 1.1.0; None: the handshake succeeds for every client)
CASES = {
    "untrusted": ("tls cert=untrusted", 1310),
    "wronghost": ("tls cert=wrong_host", 1311),
    "expired": ("tls cert=expired", 1000),
    "notyet": ("tls cert=not_yet_valid", 1000),
    "selfsigned": ("tls cert=self_signed", 1310),
    "incomplete": ("tls cert=incomplete_chain", 1310),
    "weakkey": ("tls cert=weak_key", 0),  # Go accepts RSA-1024; curl/Python (SECLEVEL 2) do not
    "sha1": ("tls cert=sha1", 1310),
    "alert": ("tls handshake=alert alert=unrecognized_name", 1010),
    "alerthf": ("tls handshake=alert alert=handshake_failure", 1010),
    "plaintext": ("tls handshake=plaintext", 1301),
    "reset": ("tls handshake=reset", 1220),
    "close": ("tls handshake=close", 1000),
    "stall": ("tls handshake=stall", 1050),
    "mtls": ("tls client_cert=require", 1010),
    "mtls12": ("tls client_cert=require max_version=1.2", 1010),
    "h1only": ("tls alpn=http1_only", None),
    "max12": ("tls max_version=1.2", None),
    "min13": ("tls min_version=1.3", None),
    "combo": ("tls cert=expired max_version=1.2 alpn=http1_only", 1000),
}
# version limits that do fail: the client's own version range excludes the fault's
VERSION_CASES = {
    "min13v": ("tls min_version=1.3", "1.2"),  # client at most TLS 1.2
    "max12v": ("tls max_version=1.2", "1.3"),  # client at least TLS 1.3
}
CLIENTS = ("k6", "curl", "py")
TIMEOUT = 2.0
K6_SCRIPT = k6run.SCRIPT


def host(case: str, client: str) -> str:
    return f"{case}-{client}.test"


@pytest.fixture(scope="module")
def tls_proxy(upstream, tmp_path_factory):
    rep = tmp_path_factory.mktemp("tls-report") / "report.jsonl"
    faults = [f"/~d ^{re.escape(host(c, cl))}$/{spec} first=1" for c, (spec, _) in CASES.items() for cl in CLIENTS]
    faults += [f"/~d ^{re.escape(host(c, cl))}$/{spec} first=1"
               for c, (spec, _) in VERSION_CASES.items() for cl in CLIENTS]
    # without SNI, ~d matches the connection's target host (here the reverse target, 127.0.0.1)
    faults += ["/~d ^127\\.0\\.0\\.1$/tls handshake=alert alert=internal_error first=1"]
    px = ProxyProcess(mode=f"reverse:{upstream.url}", options={"faults": faults, "fault_report": str(rep)})
    px.report_path = rep
    with px:
        yield px
    assert "mitmproxy has crashed" not in px.log()
    assert "Traceback" not in px.log(), px.log()[-3000:]


def url(px, h: str, tag: str) -> str:
    return f"https://{h}:{px.port}/t?case={h}-{tag}"


# -- clients -----------------------------------------------------------------

def run_k6(px, names, version: str | None = None, monkeypatch=None) -> dict:
    cases = []
    for c in names:
        h = host(c, "k6")
        cases.append({"id": f"{c}-fault", "url": url(px, h, "fault"), "timeout": f"{TIMEOUT:g}s"})
        cases.append({"id": f"{c}-control", "url": url(px, h, "control"), "timeout": f"{TIMEOUT:g}s"})
    cases.append({"id": "other", "url": url(px, "other.test", "control"), "timeout": f"{TIMEOUT:g}s"})
    hosts = {host(c, "k6"): "127.0.0.1" for c in names} | {"other.test": "127.0.0.1"}
    if version:
        v = {"1.2": "tls1.2", "1.3": "tls1.3"}[version]
        # k6's tlsVersion is a global option: a second run with the client's range pinned
        limit = f"max: '{v}', min: 'tls1.2'" if version == "1.2" else f"min: '{v}', max: 'tls1.3'"
        monkeypatch.setattr(k6run, "SCRIPT", K6_SCRIPT.replace(
            "insecureSkipTLSVerify: false,", f"insecureSkipTLSVerify: false, tlsVersion: {{ {limit} }},"))
    return k6run.run(cases, env={"SSL_CERT_FILE": str(px.ca_file)}, hosts=hosts, timeout=120)


def run_curl(px, h: str, tag: str, version: str | None = None) -> dict:
    args = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{http_version}", "--max-time", f"{TIMEOUT:g}",
            "--cacert", str(px.ca_file), "--resolve", f"{h}:{px.port}:127.0.0.1"]
    if version == "1.2":
        args += ["--tls-max", "1.2"]
    elif version == "1.3":
        args += ["--tlsv1.3"]
    p = subprocess.run(args + [url(px, h, tag)], capture_output=True, text=True, timeout=20)
    return {"exit": p.returncode, "stderr": p.stderr.strip(), "out": p.stdout}


def run_py(px, h: str, tag: str, version: str | None = None) -> dict:
    ctx = ssl.create_default_context(cafile=str(px.ca_file))
    if version == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    elif version == "1.3":
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    try:
        with httpx.Client(verify=ctx, timeout=TIMEOUT) as client:
            r = client.get(f"https://127.0.0.1:{px.port}/t?case={h}-{tag}", headers={"host": h},
                           extensions={"sni_hostname": h})
            stream = r.extensions.get("network_stream")
            sslobj = stream.get_extra_info("ssl_object") if stream else None
        return {"status": r.status_code, "http_version": r.http_version,
                "tls_version": sslobj.version() if sslobj else None}
    except httpx.HTTPError as e:
        chain, cur = [], e
        while cur is not None:
            chain.append(type(cur).__name__)
            cur = cur.__cause__ or cur.__context__
        return {"error": str(e), "chain": chain}


@pytest.fixture(scope="module")
def outcomes(tls_proxy):
    px = tls_proxy
    mp = pytest.MonkeyPatch()
    try:
        with ThreadPoolExecutor(3) as pool:
            k6_main = pool.submit(run_k6, px, list(CASES))

            def others(names, version_of):
                out = {}
                for c in names:
                    v = version_of(c)
                    for cl, fn in (("curl", run_curl), ("py", run_py)):
                        h = host(c, cl)
                        out[(c, cl)] = (fn(px, h, "fault", v), fn(px, h, "control", v))
                return out

            side = pool.submit(others, list(CASES), lambda c: None)
            side_v = pool.submit(others, list(VERSION_CASES), lambda c: VERSION_CASES[c][1])
            k6 = k6_main.result()
            res = side.result() | side_v.result()
        for c, (_, version) in VERSION_CASES.items():
            got = run_k6(px, [c], version, mp)
            k6 |= {k: v for k, v in got.items() if k != "other"}
    finally:
        mp.undo()
    wait_connections_closed(px)  # every client is done: each handshake and flow is recorded
    recs = wait_for_records(px.report_path, lambda recs: all(
        (handshake_records(recs, h) or flow_records(recs, h, "fault")) and flow_records(recs, h, "control")
        for h in [host(c, cl) for c in ALL for cl in CLIENTS]), "a record of each host's two connections")
    return k6, res, recs


def handshake_records(recs, h):
    return [r for r in recs if r.get("record") == "tls_handshake" and r["host"] == h]


def flow_records(recs, h, tag):
    return [r for r in recs if r.get("record") != "tls_handshake" and f"case={h}-{tag}" in r["url"]]


def norm(text: str) -> str:
    """k6 prints the time it checked the certificate: compare everything else."""
    return re.sub(r"current time \S+", "current time T", text or "")


ALL = {**{c: spec for c, (spec, _) in CASES.items()}, **{c: spec for c, (spec, _) in VERSION_CASES.items()}}


@pytest.mark.parametrize("case", list(ALL))
def test_k6_error_equals_annotation(outcomes, case):
    k6, _, recs = outcomes
    h = host(case, "k6")
    got, control = k6[f"{case}-fault"], k6[f"{case}-control"]
    hs = handshake_records(recs, h)
    if got["error_code"] == 0:  # the handshake succeeded for k6: normal flow records carry the fault
        assert not hs, hs
        (rec,) = flow_records(recs, h, "fault")
        assert rec["fault"] == ALL[case] and rec["k6_error_code"] == 0 and got["status"] == 200
    else:
        assert len(hs) == 1, hs  # exactly one record per failed handshake
        rec = hs[0]
        assert rec["fault"] == ALL[case]
        said = [(rec["k6_error_code"], rec["k6_error"])] + [
            (a["error"], a["message"]) for a in rec["clients"]["k6"].get("alt", [])]
        assert (got["error_code"], norm(got["error"])) in [(c, norm(m)) for c, m in said], (got, rec)
        assert not flow_records(recs, h, "fault")
    if case in CASES:
        assert got["error_code"] == (CASES[case][1] or 0) or (got["error_code"], got["error"]) == (
            1000, "http2: client conn could not be established") and case == "mtls"  # the race the alt names
    else:
        assert got["error_code"] == 1010 and got["error"] == "remote error: tls: protocol version not supported"
    if case == "h1only":
        assert got["proto"] == "HTTP/1.1"
    # the control: same host, same run, the rule no longer selects it
    assert control["error_code"] == 0 and control["status"] == 200, control
    (crec,) = flow_records(recs, h, "control")
    assert crec["fault"] is None and crec["k6_error_code"] == 0


def test_k6_unselected_host_untouched(outcomes):
    k6, _, recs = outcomes
    assert k6["other"]["error_code"] == 0 and k6["other"]["proto"] == "HTTP/2.0"
    assert not handshake_records(recs, "other.test")
    assert all(r["fault"] is None for r in flow_records(recs, "other.test", "control"))


@pytest.mark.parametrize("case", list(ALL))
def test_curl_error_equals_annotation(outcomes, case):
    _, res, recs = outcomes
    h = host(case, "curl")
    fault, control = res[(case, "curl")]
    hs = handshake_records(recs, h)
    if fault["exit"] == 0:
        assert not hs, hs
        assert fault["out"].startswith("200")
        if case == "h1only":
            assert fault["out"] == "200 1.1"
    else:
        assert len(hs) == 1, (hs, fault)
        want = hs[0]["clients"]["curl"]
        assert fault["exit"] == want["error"], (fault, want)
        assert want["message"] in fault["stderr"], (fault, want)
    assert control["exit"] == 0 and control["out"].startswith("200"), control


@pytest.mark.parametrize("case", list(ALL))
def test_python_error_equals_annotation(outcomes, case):
    _, res, recs = outcomes
    h = host(case, "py")
    fault, control = res[(case, "py")]
    hs = handshake_records(recs, h)
    if "error" not in fault:
        assert not hs, hs
        assert fault["status"] == 200
        want_version = {"max12": "TLSv1.2", "min13": "TLSv1.3", "h1only": "TLSv1.3"}.get(case)
        if want_version:  # the limit took effect on the connection that succeeded
            assert fault["tls_version"] == want_version, fault
    else:
        assert len(hs) == 1, (hs, fault)
        want = hs[0]["clients"]["python"]
        assert want["error"] in fault["chain"], (fault, want)
        assert want["message"] in fault["error"], (fault, want)
    assert control.get("status") == 200, control


def test_every_failed_handshake_is_one_record(outcomes):
    _, _, recs = outcomes
    hs = [r for r in recs if r.get("record") == "tls_handshake"]
    hosts = [r["host"] for r in hs]
    assert len(hosts) == len(set(hosts)), sorted(hosts)
    for r in hs:
        assert r["fault"] and r["k6_error_code"] is not None and r["host"].endswith(".test")


def test_without_sni_the_target_host_matches(outcomes, tls_proxy):
    """No SNI: ``~d`` sees the target host. First connection: the alert; second: the control."""
    px = tls_proxy
    ctx = ssl.create_default_context(cafile=str(px.ca_file))
    ctx.check_hostname = False  # no server_hostname: no SNI and no host name check

    def handshake():
        import socket

        with socket.create_connection(("127.0.0.1", px.port), timeout=TIMEOUT) as raw:
            with ctx.wrap_socket(raw, server_hostname=None) as tls:
                tls.sendall(b"GET /t?case=nosni HTTP/1.1\r\nHost: nosni\r\nConnection: close\r\n\r\n")
                return tls.recv(12)

    with pytest.raises(ssl.SSLError, match="tlsv1 alert internal error"):
        handshake()
    assert handshake() == b"HTTP/1.1 200"
    wait_connections_closed(px)  # both connections are over: whatever they make is recorded
    mine = lambda recs: [r for r in recs if r.get("record") == "tls_handshake" and r["sni"] is None]  # noqa: E731
    recs = mine(wait_for_records(px.report_path, mine, "the failed handshake's record (no SNI)"))
    assert len(recs) == 1 and recs[0]["host"] == "127.0.0.1"
    assert recs[0]["k6_error"] == "remote error: tls: internal error"
    assert recs[0]["clients"]["python"]["message"] == "tlsv1 alert internal error"
