"""The x-fault header under hostile input: bounded size and time, non-UTF-8,
connection-level kinds; and with fault_header off it is stripped and said once."""

import asyncio
import logging

from mitmproxy.test import taddons, tflow

from faults.addons.annotate import Classifier
from faults.addons.injector import FaultInjector


def through(inj, cls, flow):
    async def go():
        cls.requestheaders(flow)
        if (pending := inj.request(flow)) is not None:
            await pending
        if flow.response is None:
            flow.response = tflow.tresp()
        if (pending := inj.response(flow)) is not None:
            await pending
        cls.response(flow)
    asyncio.run(go())
    return flow


def with_header(raw: bytes):
    f = tflow.tflow()
    f.request.headers.fields = f.request.headers.fields + ((b"x-fault", raw),)
    return f


def run(raw: bytes, **opts):
    inj, cls = FaultInjector(), Classifier()
    with taddons.context(inj, cls) as tctx:
        tctx.configure(inj, **opts)
        return through(inj, cls, with_header(raw))


def test_a_one_mib_header_is_refused_by_its_length():
    f = run(b"status code=503 body=" + b"x" * (1 << 20), fault_header=True)
    assert f.response.status_code == 400
    assert b"invalid x-fault header: 1048597 characters long (the limit is 8192)" in f.response.content
    assert len(f.response.content) < 200  # the reason, not the header echoed back
    assert f.metadata["k6_error_code"] == 1400 and "x-fault" not in f.request.headers


def test_a_one_mib_header_of_words_is_refused_too():
    f = run(b"delay " + b"a=1 " * (1 << 18), fault_header=True)
    assert f.response.status_code == 400 and b"the limit is 8192" in f.response.content


def test_non_utf8_header_is_a_400_not_a_crash():
    f = run(b"status code=503 body=\xff\xfe", fault_header=True)
    assert f.response.status_code == 400 and b"not UTF-8" in f.response.content


def test_utf8_header_values_work():
    f = run("status code=503 body='café'".encode(), fault_header=True)
    assert f.response.status_code == 503 and f.metadata["fault"]["spec"] == "status code=503 body='café'"


def test_connection_level_kind_is_refused_in_the_header():
    f = run(b"tls alert=handshake_failure", fault_header=True)
    assert f.response.status_code == 400
    assert b"fault 'tls' acts on the connection" in f.response.content
    assert "fault" not in f.metadata  # never reported as applied


def test_header_off_is_stripped_before_upstream_and_said_once(caplog):
    caplog.set_level(logging.INFO)
    inj, cls = FaultInjector(), Classifier()
    with taddons.context(inj, cls):
        flows = [through(inj, cls, with_header(b"status code=503")) for _ in range(3)]
    assert all(f.response.status_code == 200 and "x-fault" not in f.request.headers for f in flows)
    said = [r for r in caplog.records if "x-fault request header stripped" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.INFO


def test_is_connect_reads_the_method_as_mitmproxy_does():
    from faults.addons.headers import is_connect

    f = tflow.tflow()
    for raw, connect in ((b"CONNECT", True), (b"connect", True), (b"GET", False), (b"CONNECTX", False)):
        f.request.data.method = raw
        assert is_connect(f) is connect is (f.request.method == "CONNECT")
