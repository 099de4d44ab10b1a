"""Option fault_metrics: off costs nothing; on, /metrics counts what the report records."""

import asyncio
import collections
import urllib.request

import pytest
from mitmproxy import exceptions
from mitmproxy.test import taddons, tflow
from prometheus_client.parser import text_string_to_metric_families

from faults import report
from faults.addons.annotate import Classifier
from faults.addons.injector import FaultInjector
from faults.addons.metrics import FaultMetrics

from tests.unit.addons.test_injector import through


def addons():
    inj, cls = FaultInjector(), Classifier()
    return inj, cls, FaultMetrics(cls, inj)


def scrape(fm) -> dict:
    host, port = fm.server.server_address[:2]
    text = urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5).read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def test_off_by_default_attaches_nothing():
    inj, cls, fm = addons()
    with taddons.context(inj, cls, fm):
        assert fm.server is None and cls.metrics is None and inj.metrics is None


def test_on_counts_what_the_report_records(tmp_path):
    inj, cls, fm = addons()
    rep = tmp_path / "r.jsonl"
    with taddons.context(inj, cls, fm) as tctx:
        tctx.configure(inj, faults=["|~u /api|status code=503"])
        tctx.configure(cls, fault_report=str(rep))
        tctx.configure(fm, fault_metrics="127.0.0.1:0")
        assert cls.metrics is fm.metrics and inj.metrics is fm.metrics
        for path in ["/api/1", "/x", "/api/2", "/y", "/z"]:
            f = tflow.tflow()
            f.request.path = path
            asyncio.run(through(inj, cls, f))
        got = scrape(fm)
        recs = report.read(rep)
        by_code = collections.Counter(report.k6_code_label(r) for r in recs)
        assert by_code == {"1503": 2, "0": 3}
        assert {k[1][0][1]: v for k, v in got.items() if k[0] == "faults_flows_total"} == by_code
        assert got[("faults_injected_total", (("kind", "status"), ("rule", recs[0]["rule"])))] == 2
        assert got[("faults_active", (("rule", recs[0]["rule"]),))] == 0
        errors = collections.Counter(p for r in recs for p in report.client_errors(r["clients"]))
        assert {(dict(k[1])["client"], dict(k[1])["error"]): v for k, v in got.items()
                if k[0] == "faults_client_errors_total"} == errors
        tctx.configure(fm, fault_metrics=None)  # off again: detached, the port closed
        assert fm.server is None and cls.metrics is None and inj.metrics is None


def test_a_bad_address_at_start_is_one_logged_line(caplog):
    inj, cls, fm = addons()
    with taddons.context(inj, cls, fm) as tctx:
        tctx.configure(fm, fault_metrics="nope")
        assert "faults: fault_metrics: 'nope': expected HOST:PORT" in caplog.text
        assert fm.server is None and cls.metrics is None


def test_a_bad_address_at_runtime_is_refused():
    inj, cls, fm = addons()
    with taddons.context(inj, cls, fm) as tctx:
        fm.running()
        with pytest.raises(exceptions.OptionsError, match="fault_metrics"):
            tctx.configure(fm, fault_metrics="h:99999")


def test_a_toxiproxy_connection_counts_without_a_report_file():
    """Toxiproxy's raw TCP connections write their record themselves (not through the
    classifier): with fault_metrics on and no fault_report they still count."""
    from types import SimpleNamespace

    from faults.addons.toxiproxy import ToxiproxyApi

    inj, cls, fm = addons()
    toxi = ToxiproxyApi(cls)
    with taddons.context(inj, cls, fm, toxi) as tctx:
        tctx.configure(fm, fault_metrics="127.0.0.1:0")
        link = SimpleNamespace(bytes=0, stubs=[])
        conn = SimpleNamespace(proxy_name="redis", listen="127.0.0.1:1", upstream="127.0.0.1:2",
                               client=SimpleNamespace(peername=("127.0.0.1", 5)), n=1, end="rst", why="reset_peer",
                               links={"upstream": link, "downstream": link})
        toxi._record(conn)
        assert scrape(fm)[("faults_flows_total", (("k6_code", "1220"),))] == 1
        tctx.configure(fm, fault_metrics=None)
