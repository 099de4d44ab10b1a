"""The classifier on HTTP/2 frame faults, one row per row of docs/faults.md's HTTP/2
table: wire record -> outcome -> what k6 and grpcio report (the e2e tests check
the same rows against the real clients)."""

import pytest
from mitmproxy.test import tflow

from faults import catalog, vocabulary as V
from faults.classify import classify
from tests.unit.classify.test_http import make

GOAWAY, STREAM, CONN = ("http2: received GoAway with http2 ErrCode ", "http2: stream error with http2 ErrCode ",
                        "http2: connection error with http2 ErrCode ")


def h2(wire, grpc=False, **kw):
    f = make({"h2_frame": wire.pop("frame"), **wire}, h2=True, **kw)
    if grpc:
        f.request.headers["content-type"] = "application/grpc"
    return f


def rst(code, phase, **kw):
    return h2({"frame": "rst_stream", "code": code, "phase": phase, "stream_id": 1}, **kw)


def goaway(code, phase, last, sid=1, then="close", **kw):
    return h2({"frame": "goaway", "code": code, "phase": phase, "last_stream": last, "stream_id": sid,
               "then": then}, **kw)


def violation(kind, **kw):
    return h2({"frame": "violation", "violation": kind, "phase": "before_response", "stream_id": 1}, **kw)


ROWS = [
    # (id, flow, event, k6 code, k6 text, certainty, retried, grpcio status)
    *[(f"rst after_headers {c}", rst(c, "after_headers", grpc=True), "h2.rst_stream", 1631 + c,
       STREAM + catalog.h2_name(c), "exact", False,
       {0x7: "UNAVAILABLE", 0x8: "CANCELLED", 0xB: "RESOURCE_EXHAUSTED", 0xC: "PERMISSION_DENIED"}.get(c, "INTERNAL"))
      for c in range(0xE)],
    ("rst mid_body unknown", rst(0x1F, "mid_body"), "h2.rst_stream", 1630, STREAM + "unknown error code 0x1f",
     "exact", False, None),
    ("rst before_response CANCEL", rst(8, "before_response"), "h2.rst_stream", 1639, STREAM + "CANCEL", "exact",
     False, None),
    ("rst before_response REFUSED_STREAM", rst(7, "before_response", grpc=True), "h2.rst_stream", 1050,
     "request timeout", "likely", True, "UNAVAILABLE"),
    ("rst before_response PROTOCOL_ERROR", rst(1, "before_response"), "h2.rst_stream", 1050, "request timeout",
     "likely", True, None),
    ("goaway close at last_stream", goaway(2, "before_response", 1, grpc=True), "h2.goaway", 1613,
     GOAWAY + "INTERNAL_ERROR", "exact", False, "UNAVAILABLE"),
    ("goaway close after_headers", goaway(11, "after_headers", 1), "h2.goaway", 1622, GOAWAY + "ENHANCE_YOUR_CALM",
     "exact", False, None),
    ("goaway drain", goaway(0, "before_response", 1, then="drain", grpc=True), "h2.goaway", 0, "", "exact", False,
     "OK"),
    ("goaway after_response", goaway(0, "after_response", 1, then="drain"), "h2.goaway", 0, "", "exact", False,
     None),
    ("goaway NO_ERROR below", goaway(0, "before_response", 0, grpc=True), "h2.goaway", 1050, "request timeout",
     "likely", True, "UNAVAILABLE"),
    ("goaway error below, stream 1", goaway(11, "before_response", 0), "h2.goaway", 1000,
     "http2: Transport received GOAWAY from server ErrCode:ENHANCE_YOUR_CALM", "exact", False, None),
    ("goaway NO_ERROR below after_headers", goaway(0, "after_headers", 0), "h2.goaway", 1000,
     "http2: Transport received Server's graceful shutdown GOAWAY", "exact", False, None),
    ("goaway refused bystander", h2({"frame": "goaway", "goaway_refused": True, "last_stream": 1, "stream_id": 3,
                                     "code": 0, "phase": "refused"}, response=False),
     "h2.goaway", 0, "", "likely", True, None),
    ("violation data_on_idle_stream", violation("data_on_idle_stream", grpc=True), "h2.violation", 1652,
     CONN + "PROTOCOL_ERROR", "exact", False, "UNAVAILABLE"),
    ("violation bad_hpack", violation("bad_hpack", grpc=True), "h2.violation", 1660, CONN + "COMPRESSION_ERROR",
     "exact", False, "INTERNAL"),
    ("violation oversized_frame", violation("oversized_frame", grpc=True), "h2.violation", 1000,
     "http2: frame too large", "exact", False, "UNKNOWN"),
    ("violation window_overflow", violation("window_overflow", grpc=True), "h2.violation", 1000, "unexpected EOF",
     "uncertain", False, "UNAVAILABLE"),
    ("fallback on HTTP/1.1", make({"h2_frame": "rst_stream", "fallback": "tcp_reset", "conn_end": "rst",
                                   "phase": "before_response"}, response=False),
     "h2.fallback", 1220, "read: connection reset by peer", "exact", False, None),
]


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_row(row):
    _, flow, event, code, text, certainty, retried, grpc = row
    c = classify(flow)
    assert c.outcome.event == event
    k6 = c.k6
    assert (k6.error, k6.message, k6.certainty, k6.retried) == (code, text, certainty, retried)
    assert c.entry == catalog.for_k6(code, text).id
    if grpc is None:
        assert "grpcio" not in c.clients or not flow.request.headers.get("content-type", "").startswith("application/grpc")
    else:
        assert c.clients["grpcio"].error == grpc


def test_racing_clients_name_both_outcomes():
    c = classify(violation("window_overflow", grpc=True))
    assert c.k6.alt == [{"error": 1654, "message": CONN + "FLOW_CONTROL_ERROR"}]
    assert [a["error"] for a in c.clients["grpcio"].alt] == ["INTERNAL"]


def test_grpcio_retries_a_refused_call_once():
    c = classify(goaway(0, "before_response", 0, grpc=True))
    assert c.clients["grpcio"].extra["transparent_retry"] is True


def test_h2_error_fact_names_the_code():
    assert classify(rst(0x1F, "mid_body")).outcome.facts["h2_error"] == {"name": "unknown error code 0x1f",
                                                                         "value": 0x1F}
    assert classify(violation("bad_hpack")).outcome.facts["h2_error"] == {"name": "COMPRESSION_ERROR", "value": 9}
