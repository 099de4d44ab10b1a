"""faults/wire/h2layer.py depends on private mitmproxy HTTP/2 internals. These
tests drive the real classes sans-io (no sockets) and fail loudly when a
mitmproxy upgrade moves any part of the construction: the HttpLayer swap, the
Http2Server subclass taking the client connection, the KILL interception and
the frames that come out (decoded by an independent h2 client)."""

import inspect

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import mitmproxy
import pytest
from mitmproxy.addons.proxyserver import Proxyserver
from mitmproxy.proxy import commands, events
from mitmproxy.proxy.context import Context
from mitmproxy.proxy.layers.http import ErrorCode, HTTPMode, HttpLayer, ResponseProtocolError, ResponseHeaders
from mitmproxy.proxy.layers.http import _http2
from mitmproxy.test import taddons, tflow

from faults.wire import h2layer
from faults.wire.actions import H2, H2Action


def test_pinned_mitmproxy_version():
    assert mitmproxy.version.VERSION.startswith(h2layer.TESTED_MITMPROXY + "."), (
        f"faults/wire/h2layer.py was written against mitmproxy {h2layer.TESTED_MITMPROXY}; "
        f"this is {mitmproxy.version.VERSION}: re-check the private HTTP/2 construction")


def test_private_hooks_we_rely_on_are_still_there():
    start = inspect.getsource(HttpLayer._handle_event)
    assert "self.connections.setdefault(self.context.client" in start, "HttpLayer no longer honours a preset client connection"
    assert "Http2Server(" in start
    kill = inspect.getsource(_http2.Http2Connection._handle_event)
    assert "ErrorCode.KILL" in kill and "reset_stream" in kill
    assert "self._handle_event = self.done" in inspect.getsource(_http2.Http2Connection.close_connection)
    from mitmproxy.proxy.layers.http import HttpStream
    assert 'ResponseProtocolError(self.stream_id, "killed", ErrorCode.KILL)' in inspect.getsource(HttpStream.check_killed)
    assert issubclass(h2layer.FaultH2Server, _http2.Http2Server)


@pytest.fixture
def tctx():
    with taddons.context(Proxyserver()) as t:
        client = tflow.tclient_conn()
        client.alpn = b"h2"
        yield Context(client, t.options)


class _Stream:
    def __init__(self, flow):
        self.flow = flow


def _server(ctx, flow):
    srv = h2layer.FaultH2Server(ctx)
    srv.http_layer = type("L", (), {"streams": {1: _Stream(flow)}})()
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    client.initiate_connection()
    list(srv.handle_event(events.Start()))
    client.send_headers(1, [(":method", "GET"), (":path", "/"), (":scheme", "https"), (":authority", "x")],
                        end_stream=True)
    cmds = list(srv.handle_event(events.DataReceived(ctx.client, client.data_to_send())))
    assert any(type(c).__name__ == "ReceiveHttp" for c in cmds)
    return srv, client


def _client_sees(client, cmds):
    seen = []
    for c in cmds:
        if isinstance(c, commands.SendData):
            seen += client.receive_data(c.data)
    return seen


def _frame_types(cmds):
    from hyperframe.frame import Frame

    data = b"".join(c.data for c in cmds if isinstance(c, commands.SendData))
    out = []
    while data:
        frame, length = Frame.parse_frame_header(data[:9])
        out.append(type(frame).__name__)
        data = data[9 + length:]
    return out


def _kill(srv):
    """The kill, then (as mitmproxy would) the wakeup the server asked for to close."""
    cmds = list(srv.handle_event(ResponseProtocolError(1, "killed", ErrorCode.KILL)))
    return cmds + _wakeups(srv, cmds)


def _wakeups(srv, cmds):
    out = []
    for c in cmds:
        if isinstance(c, commands.RequestWakeup):
            assert c.delay == h2layer.CLOSE_DELAY
            assert not any(isinstance(x, commands.CloseConnection) for x in cmds)  # frames first, close later
            out += list(srv.handle_event(events.Wakeup(c)))
    return out


@pytest.mark.parametrize("code", [0x0, 0x7, 0xB, 0x1F])
def test_rst_stream_with_our_code(tctx, code):
    flow = tflow.tflow()
    srv, client = _server(tctx, flow)
    H2.set(flow, H2Action("rst_stream", "before_response", code=code))
    seen = _client_sees(client, _kill(srv))
    resets = [e for e in seen if isinstance(e, h2.events.StreamReset)]
    assert [(r.stream_id, int(r.error_code)) for r in resets] == [(1, code)]


def test_goaway_then_close(tctx):
    flow = tflow.tflow()
    srv, client = _server(tctx, flow)
    H2.set(flow, H2Action("goaway", "before_response", code=0xC, last_stream=1, then="close", stream_ended=True))
    cmds = _kill(srv)
    (gone,) = [e for e in _client_sees(client, cmds) if isinstance(e, h2.events.ConnectionTerminated)]
    assert (int(gone.error_code), gone.last_stream_id) == (0xC, 1)
    assert any(isinstance(c, commands.CloseConnection) for c in cmds)
    assert srv.closed


def test_goaway_drain_lets_the_stream_finish_then_closes(tctx):
    flow = tflow.tflow()
    srv, client = _server(tctx, flow)
    H2.set(flow, H2Action("goaway", "before_response", code=0, last_stream=1, then="drain", stream_ended=False))
    response = tflow.tresp()
    cmds = list(srv.handle_event(ResponseHeaders(1, response, end_stream=True)))
    cmds += _wakeups(srv, cmds)
    kinds = _frame_types(cmds)  # h2's client state machine stops at a GOAWAY: read the frames raw
    assert kinds.index("GoAwayFrame") < kinds.index("HeadersFrame"), kinds
    assert any(isinstance(c, commands.CloseConnection) for c in cmds)  # nothing left at or below last_stream


@pytest.mark.parametrize("kind,client_error", [
    ("data_on_idle_stream", h2.exceptions.ProtocolError),
    ("oversized_frame", h2.exceptions.FrameTooLargeError),
    ("window_overflow", h2.exceptions.FlowControlError),
    ("bad_hpack", h2.exceptions.ProtocolError),
])
def test_violations_are_detected_by_a_strict_client(tctx, kind, client_error):
    flow = tflow.tflow()
    srv, client = _server(tctx, flow)
    H2.set(flow, H2Action("violation", "before_response", violation=kind))
    cmds = _kill(srv)
    with pytest.raises(client_error):
        _client_sees(client, cmds)
    assert any(isinstance(c, commands.CloseConnection) for c in cmds)


def test_install_swaps_the_http_layer_and_takes_the_h2_connection(tctx):
    layer = HttpLayer(tctx, HTTPMode.regular)
    assert h2layer.install(layer)
    assert type(layer) is h2layer.FaultHttpLayer
    list(layer.handle_event(events.Start()))
    assert isinstance(layer.connections[tctx.client], h2layer.FaultH2Server)
    assert layer.connections[tctx.client].http_layer is layer
