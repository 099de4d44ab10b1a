"""Sibling streams: what k6 reports for the *other* requests on an HTTP/2
connection that a fault ends, against what the proxy annotates for them.

Each case runs on a fresh connection from one VU: ``pre`` completes first;
A (no response yet: the upstream waits 800 ms), B (head at once, 400 kB body
over 1.5 s: half-answered, streamed by the proxy) and C (answered at once) are
in flight; 250 ms later F carries the fault, and D (like A) and E (like B)
follow it, on streams above F's. Every request's annotation must equal k6's
own error_code and error, or name it among its alternatives when uncertain;
retried attempts say so, and only the last record of a request counts.
"""

import pytest

from faults.tools import k6run

from .conftest import final_record
from .waiting import open_fds, records_by_case, reported, wait_connections_closed, wait_until

SCRIPT = k6run.ONE_CONNECTION_A_CASE + r"""
export default async function () {
  const c = cases[exec.scenario.iterationInTest];
  const base = __ENV.BASE;
  const go = (role, q, headers) => http.asyncRequest('GET', `${base}/${role}?case=${c.id}-${role}&${q}`, null,
      { timeout: '5s', headers: headers || {} })
    .then((res) => console.log(JSON.stringify({ id: `${c.id}-${role}`, error_code: res.error_code,
      error: res.error, status: res.status, proto: res.proto })));
  await go('pre', 'size=2000');
  const first = [go('A', 'size=2000&ms=800'), go('B', 'size=400000&trickle=1500'), go('C', 'size=2000')];
  await sleep(250);  // kept: the subject: F and the later streams start while A-C are in flight
  const later = [go('F', 'size=30000&ms=100', c.fault ? { 'x-fault': c.fault } : {}),
                 go('D', 'size=2000&ms=800'), go('E', 'size=400000&trickle=1500')];
  await Promise.all(first.concat(later));
}
"""
ROLES = ("pre", "A", "B", "C", "F", "D", "E")
FAULTS = [
    "reset when=before_response",
    "reset when=mid_body",
    "close when=before_response",
    "close when=mid_body",
    "truncate",
    "hang ms=300",
    "goaway code=NO_ERROR then=close",
    "goaway code=INTERNAL_ERROR then=close",
    "goaway code=ENHANCE_YOUR_CALM last_stream=below then=close",
    "h2_violation kind=data_on_idle_stream",
    "h2_violation kind=bad_hpack",
    # scope=stream: only the faulted request fails
    "reset when=before_response scope=stream",
    "reset when=mid_body scope=stream",
    "close when=before_response scope=stream",
    "close when=after_headers scope=stream",
    "close when=mid_body scope=stream",
    "truncate scope=stream",
    "hang ms=300 scope=stream",
    None,
]
REPS = 2
# docs/http2.md: reset -> RST_STREAM INTERNAL_ERROR; close before the head, hang -> RST_STREAM NO_ERROR;
# close after the head, truncate -> the stream ends short of its Content-Length
SCOPE_STREAM_CODES = {"reset": 1633, "reset before": 1633, "close before": 1631, "hang": 1631, "close": 1000,
                      "truncate": 1000}


@pytest.fixture(scope="module")
def h2proxy(upstream, tmp_path_factory):
    from faults.tools.launch import ProxyProcess

    rep = tmp_path_factory.mktemp("siblings") / "report.jsonl"
    px = ProxyProcess(mode=f"reverse:{upstream.url}", options={
        "fault_header": True, "fault_report": str(rep), "stream_large_bodies": "100k"})
    px.report_path = rep
    with px:
        yield px
    assert "Traceback" not in px.log(), px.log()[-3000:]


@pytest.fixture(scope="module")
def outcomes(h2proxy):
    run = lambda cases: k6run.run(  # noqa: E731
        cases, script=SCRIPT, per_case=len(ROLES), hosts={"demo.test": "127.0.0.1"},
        env={"SSL_CERT_FILE": str(h2proxy.ca_file), "BASE": f"https://demo.test:{h2proxy.port}"})
    run([{"id": "warmup", "fault": None}])  # the upstream pool and TLS contexts exist from here on
    wait_connections_closed(h2proxy)  # the warm-up's connections are not part of the baseline
    pid = h2proxy.proc.pid
    h2proxy.fds_before = open_fds(pid)
    cases = [{"id": f"sib{i}r{r}", "fault": f} for i, f in enumerate(FAULTS) for r in range(REPS)]
    got = run(cases)
    recs = records_by_case(h2proxy, got, reported(got))  # while the proxy runs: no record waits for shutdown
    wait_until(lambda: open_fds(pid) <= h2proxy.fds_before, 10, "the file descriptors back to the baseline",
               fail=False)  # the test compares
    h2proxy.fds_after = open_fds(pid)
    return got, recs


def test_file_descriptors_return_to_the_baseline(h2proxy, outcomes):
    assert h2proxy.fds_after <= h2proxy.fds_before, (h2proxy.fds_before, h2proxy.fds_after)


@pytest.mark.parametrize("index", range(len(FAULTS)), ids=[f or "no-fault" for f in FAULTS])
def test_every_sibling_is_annotated_as_k6_reports_it(outcomes, index):
    got, ours = outcomes
    wrong = []
    for r in range(REPS):
        for role in ROLES:
            key = f"sib{index}r{r}-{role}"
            k6, recs = got[key], ours.get(key)
            assert recs, f"no report record for {key}"
            final = final_record(recs)
            assert k6["proto"] == "HTTP/2.0" or k6["error_code"], (key, k6)
            alts = final["clients"]["k6"].get("alt", [])
            expected = [(final["k6_error_code"], final["k6_error"])] + [(a["error"], a["message"]) for a in alts]
            if (k6["error_code"], k6["error"] or "") not in expected:
                wrong.append((role, (k6["error_code"], k6["error"]), expected[0], final["collateral_of"],
                              final["outcome"]["summary"]))
    assert not wrong, "\n".join(map(str, wrong))


def test_siblings_name_the_flow_that_ended_their_connection(outcomes):
    _, ours = outcomes
    i = FAULTS.index("reset when=before_response")
    for r in range(REPS):
        culprit = ours[f"sib{i}r{r}-F"][-1]["flow_id"]
        for role in ("A", "D"):  # no response yet when the connection died
            assert ours[f"sib{i}r{r}-{role}"][-1]["collateral_of"] == culprit
        assert ours[f"sib{i}r{r}-pre"][-1]["collateral_of"] is None  # complete before the fault


@pytest.mark.parametrize("index", [i for i, f in enumerate(FAULTS) if f and "scope=stream" in f],
                         ids=[f for f in FAULTS if f and "scope=stream" in f])
def test_scope_stream_fails_only_its_own_request(outcomes, index):
    got, ours = outcomes
    want = SCOPE_STREAM_CODES[FAULTS[index].split()[0] + (" before" if "before_response" in FAULTS[index] else "")]
    for r in range(REPS):
        assert got[f"sib{index}r{r}-F"]["error_code"] == want  # docs/http2.md's scope table
        for role in ROLES:
            if role != "F":
                k6 = got[f"sib{index}r{r}-{role}"]
                assert (k6["error_code"], k6["status"]) == (0, 200), (role, k6)
