"""faults.metrics: what each call counts, read back with prometheus_client's own parser."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from faults.metrics import Metrics, parse_address


def samples(m: Metrics) -> dict:
    """(sample name, sorted labels) -> value, from the exposition text."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(m.text()) for s in fam.samples}


def test_a_faulted_flow_is_active_until_finished_then_counted():
    m = Metrics()
    m.started("f1", "api-503")
    assert samples(m)[("faults_active", (("rule", "api-503"),))] == 1
    clients = {"k6": {"error": 1503}, "curl": {"error": 0}, "httpx": {"error": None}, "node": {"error": "ok"},
               "chromium": {"error": "net::ERR_HTTP_RESPONSE_CODE_FAILURE"}}
    m.finished("f1", 1503, {"rule": "api-503", "spec": "status code=503"}, clients)
    m.finished("f2", 0, None, {"k6": {"error": 0}})
    m.finished("f3", "ws", None, {})
    got = samples(m)
    assert got[("faults_active", (("rule", "api-503"),))] == 0
    assert got[("faults_flows_total", (("k6_code", "1503"),))] == 1
    assert got[("faults_flows_total", (("k6_code", "0"),))] == 1
    assert got[("faults_flows_total", (("k6_code", "ws"),))] == 1
    assert got[("faults_injected_total", (("kind", "status"), ("rule", "api-503")))] == 1
    errors = {k: v for k, v in got.items() if k[0] == "faults_client_errors_total"}
    assert errors == {("faults_client_errors_total", (("client", "k6"), ("error", "1503"))): 1,
                      ("faults_client_errors_total", (("client", "chromium"),
                                                      ("error", "net::ERR_HTTP_RESPONSE_CODE_FAILURE"))): 1}


def test_a_record_without_a_flow_counts_like_one():
    m = Metrics()
    m.record({"record": "tls_handshake", "k6_error_code": 1100, "rule": "bad-cert", "fault": "tls cert=expired",
              "clients": {"curl": {"error": 60}}})
    m.record({"record": "connection", "k6_error_code": None})  # a Toxiproxy connection: nothing known
    got = samples(m)
    assert got[("faults_flows_total", (("k6_code", "1100"),))] == 1
    assert got[("faults_flows_total", (("k6_code", "none"),))] == 1
    assert got[("faults_injected_total", (("kind", "tls"), ("rule", "bad-cert")))] == 1
    assert got[("faults_client_errors_total", (("client", "curl"), ("error", "60")))] == 1


def test_detaching_ends_the_active_count():
    m = Metrics()
    m.started("f1", "slow")
    m.forget_live()
    m.finished("f1", 0, {"rule": "slow", "spec": "delay ms=1"}, {})  # not dec'd twice
    assert samples(m)[("faults_active", (("rule", "slow"),))] == 0


@pytest.mark.parametrize("value,want", [("127.0.0.1:9464", ("127.0.0.1", 9464)), ("9464", ("127.0.0.1", 9464)),
                                        ("0.0.0.0:0", ("0.0.0.0", 0)), ("[::1]:9464", ("::1", 9464)),
                                        ("localhost:1", ("localhost", 1))])
def test_addresses(value, want):
    assert parse_address(value) == want


@pytest.mark.parametrize("value", ["", "host", ":9464", "h:99999", "h:port", "[::1]", "[::1]9464", "²", "h:٣", "h:" + "1" * 5000])
def test_bad_addresses_say_what_is_expected(value):
    with pytest.raises(ValueError, match="HOST:PORT|port must be|IPV6"):
        parse_address(value)


def test_a_shared_clients_dict_is_counted_each_time_and_a_new_one_afresh():
    m = Metrics()
    shared = {"k6": {"error": 1503}, "curl": {"error": 0}}
    for _ in range(3):
        m.finished(None, 1503, None, shared)  # the classifier's memo hands flows one dict
    m.finished(None, 1220, None, {"k6": {"error": 1220}})
    got = samples(m)
    assert got[("faults_client_errors_total", (("client", "k6"), ("error", "1503")))] == 3
    assert got[("faults_client_errors_total", (("client", "k6"), ("error", "1220")))] == 1



def test_workers_files_being_created_do_not_fail_a_scrape(tmp_path):
    """With --workers, a scrape that meets a value file another worker has opened but not yet
    sized or headed (prometheus_client creates it in steps) counts what is written and skips
    it: it used to answer 500 (struct.error) under load. In a child process, because
    multiprocess mode sets process-wide state."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(f"""
        from faults.metrics import Metrics
        m = Metrics(multiprocess_dir={str(tmp_path)!r})
        m.record({{"k6_error_code": 1503, "flow_id": None}})
        open({str(tmp_path / "counter_4242.db")!r}, "ab").close()       # opened, not sized
        with open({str(tmp_path / "counter_4343.db")!r}, "wb") as f:   # sized, header not written
            f.truncate(1 << 20)
        print(m.text())
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert 'faults_flows_total{k6_code="1503"} 1.0' in out.stdout, out.stdout
