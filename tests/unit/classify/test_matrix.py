"""The client matrix: docs/clients.md's copy equals the profiles; explain and expect use it."""

import json

import pytest

from faults.classify import matrix
from faults.tools import cli
from faults.tools import matrix as tool
from faults.tools.pytest_plugin import FaultProxy


def test_docs_matrix_equals_the_profiles():
    text = tool.PAGE.read_text()
    assert tool.replace_in(text, tool.section()) == text, "run: python -m faults.tools.matrix --write"


def test_every_new_profile_has_a_column_and_hidden_faults_are_named():
    assert {"node", "requests", "aiohttp", "java"} <= set(matrix.columns("HTTP/1.1"))
    # node: undici with allowH2 through fault_prefer_h2; requests and aiohttp offer only http/1.1
    assert {"java", "node", "httpx"} <= set(matrix.columns("HTTP/2"))
    assert not {"requests", "aiohttp"} & set(matrix.columns("HTTP/2"))
    hidden = tool.section()
    assert "`truncate` (ok 200, no error) on HTTP/2" in hidden  # java: a short body, no error
    assert "`reset when=before_response` (re-sent 1x) on HTTP/1.1" in hidden  # aiohttp, java
    assert "`bad_gzip` (never settles)" in hidden  # node
    assert "`rst_stream code=CANCEL when=mid_body` (ok 200, no error) on HTTP/2" in hidden  # node over HTTP/2


@pytest.mark.parametrize("ident,client,spec", [
    ("ECONNRESET", "node", "reset when=mid_body"),
    ("ChunkedEncodingError", "requests", "truncate"),
    ("ClientPayloadError", "aiohttp", "bad_gzip"),
    ("SSLHandshakeException", "java", "tls cert=expired"),
    ("curl 18", "curl", "truncate"),
])
def test_produced_by_names_the_faults(ident, client, spec):
    assert (client, spec) in [(c, s) for c, _, s, _ in matrix.produced_by(ident)]


def test_bare_numbers_are_left_to_the_catalog():
    assert matrix.produced_by("1220") == [] and matrix.produced_by("ok") == []


def test_explain_prints_the_faults_for_a_client_error(capsys):
    assert cli.main(["explain", "ChunkedEncodingError"]) == 0
    out = capsys.readouterr().out
    assert "requests (HTTP/1.1): reset when=after_headers" in out
    assert cli.main(["explain", "--format", "json", "ECONNRESET"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert {"client": "node", "protocol": "HTTP/1.1", "fault": "reset when=before_response"}.items() <= \
        got["clients"][0].items()


def _fake_proxy(recs):
    fp = object.__new__(FaultProxy)
    fp.flows = lambda **kw: recs
    fp._records = lambda: recs
    fp.test_name = "t"
    return fp


def test_expect_matches_a_client_error():
    recs = [{"url": "http://x/a", "k6_error_code": 1220, "fault": "reset",
             "clients": {"node": {"error": "ECONNRESET"}, "java": {"error": "IOException", "retried": 1}}}]
    fp = _fake_proxy(recs)
    assert fp.expect(client="node", error="ECONNRESET", count=1, timeout=0.3) == recs
    assert fp.expect(error="IOException", timeout=0.3) == recs
    with pytest.raises(pytest.fail.Exception, match="client='node', error='UND_ERR_SOCKET'"):
        fp.expect(client="node", error="UND_ERR_SOCKET", timeout=0.3)
    with pytest.raises(pytest.fail.Exception, match="did you mean node"):
        fp.expect(client="nodejs", error="ECONNRESET", timeout=0.3)


def test_matrix_proxy_log_check_fails_on_any_leftover_connection():
    from tests.e2e import clientmatrix as cm

    block = ("Exception in callback StreamReaderProtocol.connection_made.<locals>.callback(<Task cancell...rvers.py:185>>)"
             " at /x/streams.py:248\nhandle: <Handle ...>\nTraceback (most recent call last):\n  File \"x\"\n"
             "asyncio.exceptions.CancelledError")
    sign = "[13:10:24.293][127.0.0.1:34742] TLS Error: [('SSL routines', '', 'tlsv1 alert decode error')]\n"
    assert cm.shutdown_problems("start\n" + sign) is None
    assert "1 client connections" in cm.shutdown_problems(sign + block)  # the alert excuses nothing now
    assert "2 client connections" in cm.shutdown_problems(block + "\n" + block)
    assert "boom" in cm.shutdown_problems(block + "\nTraceback (most recent call last):\nValueError: boom")


def test_http3_doc_matrix_equals_the_profiles():
    text = tool.H3_DOC.read_text()
    assert tool.replace_in(text, tool.h3_section(), tool.H3_BEGIN, tool.H3_END) == text, \
        "run: python -m faults.tools.matrix --http3 --write"
    assert matrix.columns("HTTP/3") == ["curl", "aioquic", "chromium"]
    assert "HTTP/3" not in tool.section()  # the README's matrix stays TCP
