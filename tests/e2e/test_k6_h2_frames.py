"""HTTP/2 frame faults through the real mitmdump (TLS, ALPN h2) with the real
k6: k6's own error_code and error must equal the report's annotation, for
GOAWAY with every code 0x0-0xd and an unknown one, every last_stream choice,
phase and then=; RST_STREAM with every code and phase; every h2_violation."""

import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from faults.tools import k6run

from .conftest import final_record
from .waiting import any_record, records_by_case, reported

UNKNOWN = 0x1F
CODE_NAMES = ["NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT",
              "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR",
              "CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED"]
CODES = list(range(0xE)) + [UNKNOWN]


def k6_formula(base: int, code: int) -> int:
    return base + (code + 1 if code <= 0xD else 0)


FAULTS = (
    [f"goaway code={c} last_stream=this when=before_response then=close" for c in CODES]
    + [f"rst_stream code={c} when=after_headers" for c in CODES]
    + [f"rst_stream code={c} when={w}" for w in ("before_response", "mid_body") for c in CODES]
    + [f"goaway code={c} last_stream={ls} when={w} then={t}"
       for ls in ("this", "below", "7", "0")
       for w in ("before_response", "after_headers", "after_response")
       for t in ("close", "drain")
       for c in ("NO_ERROR", "enhance_your_calm")]
    + [f"h2_violation kind={k}" for k in ("data_on_idle_stream", "oversized_frame", "window_overflow", "bad_hpack")]
    + [None]
)
# Pinned from runs of the real k6 1.1.0 (the formula where k6 applies it).
EXPECTED = {
    **{f"goaway code={c} last_stream=this when=before_response then=close": k6_formula(1610, c) for c in CODES},
    **{f"rst_stream code={c} when=after_headers": k6_formula(1630, c) for c in CODES},
    **{f"rst_stream code={c} when=mid_body": k6_formula(1630, c) for c in CODES},
    **{f"rst_stream code={c} when=before_response": k6_formula(1630, c) for c in CODES if c not in (1, 7)},
    "rst_stream code=1 when=before_response": 1050,  # retried by Go until k6's timeout
    "rst_stream code=7 when=before_response": 1050,
    "goaway code=NO_ERROR last_stream=below when=before_response then=close": 1050,  # reconnect storm
    "goaway code=enhance_your_calm last_stream=below when=before_response then=close": 1000,  # stream 1: no retry
    "goaway code=NO_ERROR last_stream=this when=after_response then=drain": 0,
    "h2_violation kind=data_on_idle_stream": 1652,
    "h2_violation kind=bad_hpack": 1660,
    "h2_violation kind=oversized_frame": 1000,  # Go's framer: "http2: frame too large"
    None: 0,
}


@pytest.fixture(scope="module")
def outcomes(proxy):
    cases = []
    for i, spec in enumerate(FAULTS):
        c = {"id": f"h2f-{i}", "url": f"https://demo.test:{proxy.port}/h2?case=h2f-{i}&size=30000", "timeout": "1s"}
        if spec:
            c["headers"] = {"x-fault": spec}
        cases.append(c)
    got = k6run.run(cases, env={"SSL_CERT_FILE": str(proxy.ca_file)}, hosts={"demo.test": "127.0.0.1"})
    return got, records_by_case(proxy, got, reported(got))


@pytest.mark.parametrize("index", range(len(FAULTS)), ids=[f or "no-fault" for f in FAULTS])
def test_k6_reports_what_we_annotate(outcomes, index):
    k6, ours = outcomes
    case, spec = f"h2f-{index}", FAULTS[index]
    got, recs = k6[case], ours.get(case)
    assert recs, f"no report record for {case}"
    final = final_record(recs)
    assert final["fault"] == (spec and final["fault"])  # canonical text
    # an annotation names a second outcome only where the client races (and says "uncertain")
    alt = final["clients"]["k6"].get("alt", [])
    expected = [(final["k6_error_code"], final["k6_error"])] + [(a["error"], a["message"]) for a in alt]
    assert (got["error_code"], got["error"] or "") in expected, (spec, got, final)
    assert bool(alt) == (final["certainty"] == "uncertain" and spec == "h2_violation kind=window_overflow")
    if spec in EXPECTED:
        assert got["error_code"] == EXPECTED[spec], (spec, got)
    # every attempt k6 retried says so, and at most one does not: the one k6 reported (records
    # are written as each attempt's outcome settles, so a refused attempt may come last; after
    # a reconnect storm k6 may send the next request on a leftover connection, as stream 3 or
    # above: a GOAWAY is then retryable even with an error code, and the report says so)
    if final["client_retry"]:
        assert got["error_code"] == 1050 and "1050" in final["note"]
    if spec is None:
        assert got["status"] == 200 and got["proto"] == "HTTP/2.0" and got["body_len"] == 30000
    if spec:  # the report keeps the fault as sent: the HTTP/2 error name and value
        err = final["facts"]["h2_error"]
        assert final["facts"]["h2_frame"] in ("goaway", "rst_stream", "violation") and err["value"] >= 0
        if spec.startswith(("goaway", "rst_stream")):
            assert err["name"] == (CODE_NAMES[err["value"]] if err["value"] <= 0xD else f"unknown error code 0x{err['value']:x}")


def test_retry_storm_is_visible_in_the_report(outcomes):
    """A GOAWAY that says "not processed" on every attempt: k6 reconnects again
    and again until its timeout; each attempt is a flow annotated as retried."""
    k6, ours = outcomes
    i = FAULTS.index("goaway code=NO_ERROR last_stream=below when=before_response then=close")
    recs = ours[f"h2f-{i}"]
    assert len(recs) > 5 and all(r["client_retry"] and r["k6_error_code"] == 1050 for r in recs)


BATCH_SCRIPT = r"""
import http from 'k6/http';
export const options = { iterations: 1, vus: 1, hosts: JSON.parse(__ENV.HOSTS) };
export default function () {
  const base = __ENV.BASE;
  const reqs = [];
  for (let i = 0; i < 6; i++) {
    const headers = i === 2 ? { 'x-fault': __ENV.FAULT } : {};
    reqs.push(['GET', `${base}/g?case=${__ENV.TAG}-${i}&ms=${i === 2 ? 0 : 300}&size=2000`, null, { headers, timeout: '10s' }]);
  }
  const res = http.batch(reqs);
  console.log(JSON.stringify(res.map(r => ({ status: r.status, error_code: r.error_code, proto: r.proto, len: r.body ? r.body.length : 0 }))));
}
"""


@pytest.mark.parametrize("fault", ["goaway code=NO_ERROR when=after_response then=drain",
                                   "goaway code=NO_ERROR last_stream=below when=after_response then=drain"])
def test_graceful_goaway_with_requests_in_flight(proxy, fault):
    tag = "graceful" + ("-below" if "below" in fault else "")
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "batch.js"
        script.write_text(BATCH_SCRIPT)
        log = Path(tmp) / "k6.log"
        env = dict(os.environ, SSL_CERT_FILE=str(proxy.ca_file), HOSTS=json.dumps({"demo.test": "127.0.0.1"}),
                   BASE=f"https://demo.test:{proxy.port}", FAULT=fault, TAG=tag, K6_NO_USAGE_REPORT="true")
        subprocess.run([k6run.k6_path(), "run", "--quiet", "--no-summary", "--log-format=raw",
                        f"--log-output=file={log}", str(script)], env=env, cwd=tmp, timeout=60, check=True)
        results = json.loads([ln for ln in log.read_text().splitlines() if ln.startswith("[")][-1])
    assert [r["status"] for r in results] == [200] * 6, results
    assert all(r["error_code"] == 0 and r["proto"] == "HTTP/2.0" and r["len"] == 2000 for r in results)
    ours = records_by_case(proxy, [f"{tag}-{i}" for i in range(6)])
    for i in range(6):
        recs = ours[f"{tag}-{i}"]
        final = final_record(recs)
        assert final["k6_error_code"] == 0 and final["status"] == 200, recs
        for r in recs:  # refused by the GOAWAY: retried by k6, said so
            if r is not final:
                assert r["client_retry"] and r["facts"].get("goaway_refused"), r
    refused = sum(len(ours[f"{tag}-{i}"]) - 1 for i in range(6))
    if "below" in fault:  # the slow streams above last_stream were refused and retried
        assert refused >= 1


# -- curl and httpx[http2] on a subset ---------------------------------------------------
OTHER_CLIENT_FAULTS = [
    "rst_stream code=CANCEL when=before_response",
    "rst_stream code=ENHANCE_YOUR_CALM when=mid_body",
    "rst_stream code=0x1f when=after_headers",
    "goaway code=INTERNAL_ERROR last_stream=this when=before_response then=close",
    "goaway code=NO_ERROR when=after_response then=drain",
    "h2_violation kind=data_on_idle_stream",
    "h2_violation kind=bad_hpack",
]


def _h2_only_context(ca_file):
    import ssl

    class H2Only(ssl.SSLContext):
        """httpx offers http/1.1 first and mitmproxy honours the client's order: offer h2 only."""

        def set_alpn_protocols(self, protos):
            super().set_alpn_protocols(["h2"])

    ctx = H2Only(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(str(ca_file))
    return ctx


@pytest.fixture(scope="module")
def other_clients(proxy):
    import httpx

    out = {}
    for i, spec in enumerate(OTHER_CLIENT_FAULTS):
        url = f"https://demo.test:{proxy.port}/o?case=curl-{i}&size=30000"
        p = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--http2", "--cacert",
                            str(proxy.ca_file), "--resolve", f"demo.test:{proxy.port}:127.0.0.1", "-m", "3",
                            "-H", f"x-fault: {spec}", url], capture_output=True, text=True, timeout=10)
        out[f"curl-{i}"] = {"exit": p.returncode, "status": p.stdout, "stderr": p.stderr.strip()}
        try:
            with httpx.Client(http2=True, verify=_h2_only_context(proxy.ca_file), timeout=3) as c:
                r = c.get(f"https://127.0.0.1:{proxy.port}/o?case=httpx-{i}&size=30000",
                          headers={"x-fault": spec}, extensions={"sni_hostname": "demo.test"})
                out[f"httpx-{i}"] = {"status": r.status_code, "version": r.http_version, "error": ""}
        except httpx.HTTPError as e:
            out[f"httpx-{i}"] = {"status": None, "error": f"{type(e).__name__}: {e}"}
    return out, records_by_case(proxy, out, any_record)


@pytest.mark.parametrize("index", range(len(OTHER_CLIENT_FAULTS)), ids=OTHER_CLIENT_FAULTS)
def test_curl_and_httpx_report_what_we_annotate(other_clients, index):
    """curl and httpx name the frame the report says was sent (measured:
    docs/http2.md has the table)."""
    got, ours = other_clients
    spec = OTHER_CLIENT_FAULTS[index]
    curl, hx = got[f"curl-{index}"], got[f"httpx-{index}"]
    (rec,) = ours[f"curl-{index}"]
    (hrec,) = ours[f"httpx-{index}"]
    assert rec["http_version"] == hrec["http_version"] == "HTTP/2.0"
    facts = rec["facts"]
    assert hrec["facts"]["h2_frame"] == facts["h2_frame"] and hrec["facts"]["h2_error"] == facts["h2_error"]
    err = facts["h2_error"]
    # the curl and httpx profiles predicted what the real clients did
    want = rec["clients"]["curl"]
    assert curl["exit"] in [want["error"]] + [a["error"] for a in want.get("alt", [])], (want, curl)
    assert want["message"] in curl["stderr"], (want, curl)
    want = hrec["clients"]["httpx"]
    readings = [(want["error"], want["message"])] + [(a["error"], a["message"]) for a in want.get("alt", [])]
    assert any(hx["error"].startswith(f"{e}: ") and m in hx["error"] if e else not hx["error"]
               for e, m in readings), (want, hx)
    if facts["h2_frame"] == "rst_stream":
        curl_name = err["name"] if err["value"] <= 0xD else "unknown"
        assert curl["exit"] == 92 and curl["stderr"].endswith(f"{curl_name} (err {err['value']})"), curl
        assert f"StreamReset stream_id:1, error_code:{err['value']}," in hx["error"], hx
    elif rec["k6_error_code"] == 0:  # GOAWAY after a complete response
        assert (curl["exit"], curl["status"], hx["status"]) == (0, "200", 200), (curl, hx)
    elif facts["h2_frame"] == "goaway":
        assert curl["exit"] == 18 and "not closed cleanly before end of the underlying stream" in curl["stderr"]
        assert (f"ConnectionTerminated error_code:{err['value']}, last_stream_id:{facts['last_stream']},"
                in hx["error"]), hx
    else:
        # curl reports the close that follows the violation: "Empty reply from server" (52) or,
        # when it was still writing, "Send failure: Broken pipe" (55) / "Recv failure" (56)
        assert curl["exit"] in (52, 55, 56), curl
        if facts["violation"] == "bad_hpack":
            assert hx["error"].startswith("LocalProtocolError: Error decoding header block"), hx
        else:  # data_on_idle_stream: h2 refuses a frame for a stream it never opened
            assert hx["error"].startswith("LocalProtocolError"), hx


# -- HTTP/1.1 flows: the documented fallback ----------------------------------------------
def test_frame_faults_on_http1_fall_back_to_a_tcp_reset(proxy):
    specs = ["goaway code=INTERNAL_ERROR", "rst_stream code=CANCEL when=mid_body", "h2_violation kind=bad_hpack"]
    cases = [{"id": f"h1-{i}", "url": f"http://127.0.0.1:{proxy.port}/h1?case=h1fb-{i}", "timeout": "2s",
              "headers": {"x-fault": s}} for i, s in enumerate(specs)]
    got = k6run.run(cases)
    ours = records_by_case(proxy, [f"h1fb-{i}" for i in range(len(specs))])
    for i, spec in enumerate(specs):
        (rec,) = ours[f"h1fb-{i}"]
        assert rec["http_version"] == "HTTP/1.1" and rec["facts"]["fallback"] == "tcp_reset"
        assert rec["k6_error_code"] == got[f"h1-{i}"]["error_code"] == 1220


# -- mixed load ---------------------------------------------------------------------------------
LOAD_SCRIPT = r"""
import http from 'k6/http';
import { check } from 'k6';
export const options = { vus: 20, duration: __ENV.DURATION, hosts: JSON.parse(__ENV.HOSTS),
                         noVUConnectionReuse: false };
const FAULTS = JSON.parse(__ENV.FAULTS);
export default function () {
  const faulted = Math.random() < 0.2;
  const headers = faulted ? { 'x-fault': FAULTS[Math.floor(Math.random() * FAULTS.length)] } : {};
  const res = http.get(`${__ENV.BASE}/load?size=5000&v=${__VU}`, { headers, timeout: '3s' });
  if (!faulted) {
    if (res.status !== 200 || res.body.length !== 5000 || res.proto !== 'HTTP/2.0') {
      console.log(JSON.stringify({ bad: true, status: res.status, error_code: res.error_code, error: res.error }));
    }
  }
}
"""
LOAD_FAULTS = [
    "rst_stream code=CANCEL when=before_response", "rst_stream code=INTERNAL_ERROR when=mid_body",
    "rst_stream code=ENHANCE_YOUR_CALM when=after_headers", "goaway code=NO_ERROR when=after_response then=drain",
    "goaway code=INTERNAL_ERROR when=after_response then=close", "h2_violation kind=bad_hpack",
]


def test_mixed_load_no_crash_and_unfaulted_requests_answered(proxy):
    """20 VUs for 10 s, each VU reusing its HTTP/2 connection, frame faults on
    ~20 % of requests (stream resets, GOAWAYs, a violation): no mitmproxy
    connection crashes, and every unfaulted request is answered correctly
    (a VU whose connection a fault ended reconnects for its next request)."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "load.js"
        script.write_text(LOAD_SCRIPT)
        log = Path(tmp) / "k6.log"
        env = dict(os.environ, SSL_CERT_FILE=str(proxy.ca_file), HOSTS=json.dumps({"demo.test": "127.0.0.1"}),
                   BASE=f"https://demo.test:{proxy.port}", FAULTS=json.dumps(LOAD_FAULTS), DURATION="10s",
                   K6_NO_USAGE_REPORT="true")
        subprocess.run([k6run.k6_path(), "run", "--quiet", "--no-summary", "--log-format=raw",
                        f"--log-output=file={log}", str(script)], env=env, cwd=tmp, timeout=60, check=True)
        bad = [ln for ln in log.read_text().splitlines() if '"bad"' in ln]
    assert not bad, bad[:10]
    text = proxy.log()
    assert "mitmproxy has crashed" not in text and "Traceback" not in text, text[-3000:]


# curl 7.88 takes REFUSED_STREAM for "try again on a new connection": before any response byte
# (the upload included) it re-sends, 5 times at most, then exits 56; after the head it does not
REFUSED = ["rst_stream code=REFUSED_STREAM when=before_response",
           "rst_stream code=REFUSED_STREAM when=mid_request after_bytes=65536",
           "rst_stream code=REFUSED_STREAM when=after_headers"]


@pytest.fixture(scope="module")
def curl_refused(proxy, tmp_path_factory):
    body = tmp_path_factory.mktemp("refused") / "body.bin"
    body.write_bytes(b"x" * (1024 * 1024))
    out = {}
    for i, spec in enumerate(REFUSED):
        url = f"https://demo.test:{proxy.port}/o?case=refused-{i}&size=30000"
        upload = ["--data-binary", f"@{body}"] if "mid_request" in spec else []
        p = subprocess.run(["curl", "-sS", "-o", "/dev/null", "--http2", "--cacert", str(proxy.ca_file),
                            "--resolve", f"demo.test:{proxy.port}:127.0.0.1", "-m", "10",
                            "-H", f"x-fault: {spec}", *upload, url], capture_output=True, text=True, timeout=30)
        out[f"refused-{i}"] = {"exit": p.returncode, "stderr": p.stderr.strip()}
    return out, records_by_case(proxy, out, any_record)


@pytest.mark.parametrize("index", range(len(REFUSED)), ids=REFUSED)
def test_curl_re_sends_a_refused_stream(curl_refused, index):
    got, ours = curl_refused
    curl, recs = got[f"refused-{index}"], ours[f"refused-{index}"]
    want = recs[-1]["clients"]["curl"]
    assert {r["http_version"] for r in recs} == {"HTTP/2.0"}
    assert (curl["exit"], len(recs) - 1) == (want["error"], want.get("retried", 0)), (want, curl, len(recs))
    assert want["message"] in curl["stderr"], (want, curl)
