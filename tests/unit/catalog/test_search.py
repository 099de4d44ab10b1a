"""`faults explain` takes what clients print: k6's error text, curl exit codes,
gRPC statuses; ambiguous input is ranked (faults.catalog.search)."""

import pytest

from faults.catalog import search
from faults.tools import cli


def ids(text):
    return [e.id for _, e in search.readings(text)]


@pytest.mark.parametrize("text, first", [
    ("read: connection reset by peer", "network.tcp.reset_by_peer"),
    ("write: connection reset by peer", "network.tcp.reset_by_peer"),
    ("unexpected EOF", "http.body.truncated"),
    ("EOF", "network.tcp.closed"),
    ("request timeout", "client.timeout.request"),
    ("http2: stream error with http2 ErrCode CANCEL", "http2.stream.cancel"),
    ("remote error: tls: handshake failure", "tls.alert.remote"),
    ("error decompressing response body (error decompressing response body (gzip: invalid header))",
     "http.body.decompression"),
    # a whole k6 log line: k6's text is found inside it
    ('request failed error="Get \\"http://127.0.0.1:8080/x\\": read tcp 127.0.0.1:1->127.0.0.1:2: '
     'read: connection reset by peer"', "network.tcp.reset_by_peer"),
    # Go's full text: the cause at the end outranks k6's generic "dial tcp <address>: <error text>"
    ("dial tcp 127.0.0.1:9: connect: connection refused", "network.dial.refused"),
    ("curl 56", "network.tcp.reset_by_peer"),
    ("curl: (52) Empty reply from server", "network.tcp.closed"),
    ("curl 61", "http.body.decompression"),
    ("grpc 14", "grpc.status.unavailable"),
    ("grpc UNAVAILABLE", "grpc.status.unavailable"),
    ("StatusCode.DEADLINE_EXCEEDED", "grpc.status.deadline_exceeded"),
    ("1220", "network.tcp.reset_by_peer"),  # the catalog's own readings still work
])
def test_first_reading(text, first):
    assert ids(text)[0] == first


def test_unambiguous_inputs_have_one_reading():
    for text in ("unexpected EOF", "read: connection reset by peer", "curl 61", "curl 28", "grpc 14"):
        assert len(ids(text)) == 1, (text, ids(text))


def test_ambiguous_inputs_are_ranked():
    assert ids("curl 35")[:2] == ["tls.alert.remote", "tls.record.header"] and len(ids("curl 35")) == 4
    assert ids("curl 60")[0] == "tls.x509.unknown_authority"
    # k6's text first, the HTTP status of the same name after it
    assert ids("request timeout") == ["client.timeout.request", "http.status.request_timeout"]
    # a longer k6 text wins over a shorter one inside it ("EOF" in "... unexpected EOF")
    assert ids("Get \"http://x/\": unexpected EOF") == ["http.body.truncated"]
    assert ids("UNAVAILABLE")[0] == "grpc.status.unavailable" and len(ids("UNAVAILABLE")) > 1


def test_unknown_curl_code_and_text_match_nothing():
    assert ids("curl 99") == [] and ids("grpc NOPE") == []


def test_cli_ranks_and_explains(capsys):
    assert cli.main(["explain", "curl", "56"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("'curl 56' has 2 readings, most likely first:")
    assert "[1] curl exit code 56" in out and "network.tcp.reset_by_peer" in out
    assert cli.main(["explain", "read: connection reset by peer"]) == 0
    out = capsys.readouterr().out
    assert "has 1 reading." in out and "1220" in out
    assert cli.main(["explain", "curl 99"]) == 1
    assert "curl exit code (curl 56)" in capsys.readouterr().err
