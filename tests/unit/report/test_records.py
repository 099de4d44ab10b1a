"""faults/report/records.py: every record's head (``t``, ``duration_ms``), and the k6
fields of every record taken from its classification, the Toxiproxy connection's too."""

import time

import pytest
from mitmproxy.test import taddons, tflow

from faults import gates, report
from faults.addons.annotate import Classifier
from faults.classify import classify_connection
from faults.report import records


def _classified(cls, flow):
    c, shared = cls._classified(flow)
    return c, flow.metadata.get("fault"), shared[3]


def connection(end="rst", bytes_down=0):
    return records.connection_record(classify_connection(end=end, bytes_down=bytes_down), proxy="p", listen=None,
                                     upstream=None, client=None, n=1, end=end, why=None, bytes_up=0,
                                     bytes_down=bytes_down, toxics={})


def test_every_record_carries_t_and_duration_ms(monkeypatch):
    """``t``: seconds from the run's t0 to the record's start; ``duration_ms``: start to settled."""
    monkeypatch.setattr(gates.clock, "t0", None)
    monkeypatch.setattr(gates.clock, "path", None)
    tctx_cls = Classifier()
    with taddons.context(tctx_cls):
        flow = tflow.tflow(resp=True)
        flow.request.timestamp_start = time.time() - 0.25
        gates.clock.start(flow.request.timestamp_start - 2.0)  # the run began 2 s before this request
        tctx_cls.finish(flow)
    rec = records.flow_record(flow, *_classified(tctx_cls, flow))
    assert isinstance(rec["t"], float) and abs(rec["t"] - 2.0) < 0.01
    # from the request's start to when the record was written (its ts, to the ms)
    assert rec["duration_ms"] >= 250 and abs(rec["duration_ms"] - (rec["ts"] - flow.request.timestamp_start) * 1000) <= 1
    rec = connection()
    assert rec["t"] >= 2.2 and rec["duration_ms"] is None


def test_a_flow_records_k6_fields_are_its_classifications():
    cls = Classifier()
    with taddons.context(cls):
        flow = tflow.tflow(resp=True)
        flow.response.status_code = 503
        cls.finish(flow)
    c, fault, annotation = _classified(cls, flow)
    rec = records.flow_record(flow, c, fault, annotation)
    assert (rec["k6_error_code"], rec["k6_error"], rec["certainty"]) == (c.k6.error, c.k6.message, c.k6.certainty)
    assert rec["k6_error_code"] == 1503 and rec["outcome"]["entry"] == c.outcome.entry


# what real k6 reports through a Toxiproxy proxy (tests/e2e/test_toxiproxy_k6.py); nothing
# known for a clean end or a close after bytes reached the client
@pytest.mark.parametrize("end, bytes_down, k6", [
    ("rst", 0, (1220, "read: connection reset by peer", "likely")),
    ("rst", 200, (1220, "read: connection reset by peer", "likely")),
    ("closed", 0, (1000, "EOF", "likely")),
    ("closed", 200, (None, None, None)),
    ("fin", 0, (None, None, None)),
    ("fin", 200, (None, None, None)),
])
def test_a_toxiproxy_connections_k6_fields_come_from_the_classifier(end, bytes_down, k6):
    rec = connection(end, bytes_down)
    assert (rec["k6_error_code"], rec["k6_error"], rec["certainty"]) == k6
    assert rec["note"] == (k6[0] and "if the connection carried one HTTP/1.1 exchange")
    assert "outcome" not in rec and "clients" not in rec  # the record's format is unchanged


def test_the_report_names_stay_importable_from_faults_report():
    assert report.Report.__module__ == "faults.report.writer" and report.read.__module__ == "faults.report.reader"
    assert report.connection_record is records.connection_record and report.FORMAT == records.FORMAT == 2
    assert report.k6_code_label({"record": "websocket"}) == "ws" and report.kind_of("hang") == "hang"
    assert report.code_text(None) == "none" and list(report.client_errors({"curl": {"error": 7}})) == [("curl", "7")]
