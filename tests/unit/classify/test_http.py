"""The classifier on HTTP flows, one row per row of docs/faults.md's HTTP table:
wire record -> outcome -> what k6 (and curl, httpx) report. The e2e tests
check the same rows against the real clients; these pin the logic."""

import gzip

import pytest
from mitmproxy import flow as mflow
from mitmproxy import http
from mitmproxy.test import tflow

from faults import catalog, vocabulary as V
from faults.classify import classify

UEOF, RESET, TIMEOUT = "unexpected EOF", "read: connection reset by peer", "request timeout"


def make(wire=None, *, h2=False, reused=False, method="GET", status=200, body=b"x" * 100, headers=None,
         response=True, error=None):
    f = tflow.tflow(resp=response)
    f.request.method = method
    f.request.raw_content = b"" if method == "GET" else b"{}"
    f.client_conn.timestamp_end = None  # a live client
    f.request.http_version = "HTTP/2.0" if h2 else "HTTP/1.1"
    if response:
        f.response.status_code = status
        f.response.http_version = f.request.http_version
        f.response.headers = http.Headers(**(headers or {}), content_length=str(len(body)))
        f.response.raw_content = body
        f.response.headers.update(headers or {})
    if error:
        f.error = mflow.Error(error)
    f.metadata[V.CONN_SEQ] = 1 if reused else 0
    if wire:
        f.metadata[V.WIRE] = wire
    return f


ROWS = [
    # (id, flow, event, entry, k6 code, k6 text, certainty, retried)
    ("status 503", make({"synthetic_status": 503, "phase": "before_response"}, status=503),
     "http.response", "http.status.service_unavailable", 1503, "", "exact", False),
    ("status 404 h2", make(status=404, h2=True), "http.response", "http.status.not_found", 1404, "", "exact", False),
    ("status 200", make(), "http.response", "http.status.ok", 0, "", "exact", False),
    ("status 100", make(status=100, body=b""), "http.informational", "http.status.continue", 1050, TIMEOUT,
     "likely", False),
    ("status 101", make(status=101, body=b""), "http.switching", "http.status.switching_protocols", 0,
     "unsupported response status: 101 Switching Protocols", "uncertain", False),
    ("hang (client gave up)", make({"client_gave_up": True}, response=False, error="Client disconnected."),
     "client.gave_up", "client.timeout.request", 1050, TIMEOUT, "likely", False),
    ("hang ms=N h1", make({"conn_end": "fin", "phase": "before_response"}, response=False),
     "tcp.fin", "network.tcp.closed", 1000, "EOF", "exact", False),
    ("hang ms=N h2", make({"conn_end": "fin", "phase": "before_response"}, h2=True, response=False),
     "tcp.fin", "network.tcp.closed", 1000, UEOF, "exact", False),
    ("reset before_response", make({"conn_end": "rst", "phase": "before_response"}, response=False),
     "tcp.rst", "network.tcp.reset_by_peer", 1220, RESET, "exact", False),
    ("reset before_response, reused, GET", make({"conn_end": "rst", "phase": "before_response"}, reused=True,
                                                 response=False),
     "tcp.rst", "network.tcp.reset_by_peer", 1220, RESET, "likely", True),
    ("reset before_response, reused, POST", make({"conn_end": "rst", "phase": "before_response"}, reused=True,
                                                  method="POST", response=False),
     "tcp.rst", "network.tcp.reset_by_peer", 1220, RESET, "exact", False),
    ("reset before_response, reused, h2", make({"conn_end": "rst", "phase": "before_response"}, reused=True,
                                                h2=True, response=False),
     "tcp.rst", "network.tcp.reset_by_peer", 1220, RESET, "exact", False),
    ("reset after_headers", make({"conn_end": "rst", "phase": "after_headers"}),
     "tcp.rst", "network.tcp.reset_by_peer", 1220, RESET, "exact", False),
    ("reset mid_body", make({"conn_end": "rst", "phase": "mid_body", "body_sent": 50}),
     "tcp.rst", "network.tcp.reset_by_peer", 1220, RESET, "exact", False),
    ("close before_response h1", make({"conn_end": "fin", "phase": "before_response"}, response=False),
     "tcp.fin", "network.tcp.closed", 1000, "EOF", "exact", False),
    ("close after_headers", make({"conn_end": "fin", "phase": "after_headers"}),
     "tcp.fin", "http.body.truncated", 1000, UEOF, "exact", False),
    ("close mid_body", make({"conn_end": "fin", "phase": "mid_body"}),
     "tcp.fin", "http.body.truncated", 1000, UEOF, "exact", False),
    ("truncate", make({"conn_end": "fin", "phase": "mid_body", "body_sent": 50, "body_announced": 100}),
     "tcp.fin", "http.body.truncated", 1000, UEOF, "exact", False),
    ("bad_gzip", make({"body_encoding": "gzip (invalid)"}, headers={"content-encoding": "gzip"}),
     "http.undecodable", "http.body.decompression", 1701,
     "error decompressing response body (error decompressing response body (gzip: invalid header))", "exact", False),
    ("healthy gzip", make(headers={"content-encoding": "gzip"}, body=gzip.compress(b"y" * 1000)),
     "http.response", "http.status.ok", 0, "", "exact", False),
    ("short body (no fault)", make(headers={"content-length": "500"}),
     "http.short_body", "http.body.truncated", 1000, UEOF, "exact", False),
    ("throttle", make({"throttled_bytes_per_s": 10, "phase": "after_response"}),
     "http.response", "http.status.ok", 0, "", "likely", False),
    ("upstream unreachable", make(response=False, error="Connection refused"),
     "upstream.failed", "http.status.bad_gateway", 1502, "", "exact", False),
    ("killed h1", make(response=False, error=mflow.Error.KILLED_MESSAGE),
     "proxy.killed", "network.tcp.closed", 1000, "EOF", "likely", False),
    ("killed h2", make(response=False, h2=True, error=mflow.Error.KILLED_MESSAGE),
     "proxy.killed", "http2.stream.internal_error", 1633, "http2: stream error with http2 ErrCode INTERNAL_ERROR",
     "exact", False),
    ("released at shutdown", make({"released_at_shutdown": True}, response=False),
     "proxy.released", "network.tcp.closed", 1000, "EOF", "uncertain", False),
    ("grpc_status", make({"grpc_status": 14, "grpc_status_name": "UNAVAILABLE"}, h2=True),
     "grpc.status", "grpc.status.unavailable", 0, "", "exact", False),
]


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_row(row):
    _, flow, event, entry, code, text, certainty, retried = row
    c = classify(flow)
    assert (c.outcome.event, c.outcome.entry) == (event, entry)
    k6 = c.k6
    assert (k6.error, k6.message, k6.certainty, k6.retried) == (code, text, certainty, retried)
    # the annotation's entry is named by the profile, and agrees with what the
    # catalog's own reading of k6's code and text finds
    assert c.entry == catalog.for_k6(code, text).id


CURL_HTTPX = [  # the rows tests/e2e/test_core_modes_and_clients.py checks against the real clients
    ("reset", make({"conn_end": "rst", "phase": "mid_body"}), 56, "ReadError"),
    ("close before_response", make({"conn_end": "fin", "phase": "before_response"}, response=False), 52,
     "RemoteProtocolError"),
    ("truncate", make({"conn_end": "fin", "phase": "mid_body"}), 18, "RemoteProtocolError"),
    ("bad_gzip", make(headers={"content-encoding": "gzip"}), 61, "DecodingError"),
    ("503", make(status=503), 0, None),
]


@pytest.mark.parametrize("row", CURL_HTTPX, ids=[r[0] for r in CURL_HTTPX])
def test_curl_and_httpx_profiles(row):
    _, flow, curl_exit, httpx_error = row
    c = classify(flow)
    assert c.clients["curl"].error == curl_exit
    assert c.clients["httpx"].error == httpx_error
    assert "grpcio" not in c.clients  # not a gRPC call


def test_every_outcome_is_a_catalog_entry():
    for row in ROWS:
        c = classify(row[1])
        catalog.by_id(c.outcome.entry)
        for r in c.clients.values():
            if r.entry:
                catalog.by_id(r.entry)


# -- plain_response_key: the classifier's shortcut for the commonest flows --------------

def _outcome(f):
    from faults.classify.http import outcome_of
    o = outcome_of(f)
    return (o.event, o.entry, o.summary, o.facts)


def test_plain_response_key_equal_keys_mean_equal_outcomes():
    from faults.classify.http import plain_response_key
    a, b = make(), make()
    b.request.path = "/elsewhere"  # nothing outcome_of reads
    assert plain_response_key(a) is not None and plain_response_key(a) == plain_response_key(b)
    assert _outcome(a) == _outcome(b)


@pytest.mark.parametrize("change", [
    lambda f: setattr(f.response, "status_code", 503),
    lambda f: f.metadata.__setitem__(V.CONN_SEQ, 1),
    lambda f: setattr(f.response, "raw_content", b"x" * 99),  # short of its content-length
    lambda f: f.response.headers.__setitem__("content-length", "101"),
    lambda f: setattr(f.request, "method", "HEAD"),
    lambda f: setattr(f.request, "http_version", "HTTP/2.0"),
])
def test_plain_response_key_changes_with_what_changes_the_outcome(change):
    from faults.classify.http import plain_response_key
    a, b = make(), make()
    change(b)
    assert plain_response_key(b) is not None and plain_response_key(a) != plain_response_key(b)


@pytest.mark.parametrize("flow", [
    make({"conn_end": "rst", "phase": "mid_body"}),  # a wire record
    make(error=RESET),
    make(response=False),
    make(status=101),
    make(status=100, body=b""),
    make(headers={"content-encoding": "gzip"}, body=gzip.compress(b"x")),
    make(headers={"Content-Encoding": "br"}),
    None,  # gRPC over HTTP/2: made below
], ids=["wire", "error", "no response", "101", "100", "gzip", "br", "grpc"])
def test_plain_response_key_leaves_other_flows_to_outcome_of(flow):
    from faults.classify.http import plain_response_key
    if flow is None:
        f = make(h2=True)
        f.request.headers["content-type"] = "application/grpc"
        flow = f
    assert plain_response_key(flow) is None
