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
    make = inspect.getsource(HttpLayer.make_stream)  # FaultHttpLayer.make_stream is this with our stream class
    assert "self.streams[stream_id] = HttpStream(ctx, stream_id)" in make and "events.Start()" in make


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


def test_install_swaps_the_http_layer_and_adopt_takes_the_h2_connection(tctx):
    from types import SimpleNamespace

    from faults.wire import builtin

    layer = HttpLayer(tctx, HTTPMode.regular)
    assert h2layer.install(layer)
    assert type(layer) is h2layer.FaultHttpLayer
    list(layer.handle_event(events.Start()))
    assert type(layer.connections[tctx.client]) is _http2.Http2Server  # stock until a rule selects a flow
    builtin.proxyserver().connections[tctx.client.id] = SimpleNamespace(layer=layer)
    assert h2layer.adopt(tctx.client)
    assert isinstance(layer.connections[tctx.client], h2layer.FaultH2Server)
    assert layer.connections[tctx.client].http_layer is layer


def test_a_quic_client_gets_the_http3_layer(tctx):
    tctx.client.transport_protocol = "udp"
    layer = HttpLayer(tctx, HTTPMode.regular)
    assert h2layer.install(layer)
    assert type(layer) is h2layer.FaultH3HttpLayer


@pytest.mark.parametrize("client_reset_first", [True, False])
def test_a_stream_the_client_reset_keeps_its_record_when_a_later_fault_ends_the_connection(tctx, client_reset_first):
    """A hang the client timed out (RST_STREAM CANCEL), then a fault on the client's next
    request on the same connection (Go reuses it) resets the connection before the hang
    noticed: the hang's client saw its own reset, not that end (the demo's HTTP/2 hang row
    once read 1220 under load)."""
    from faults import vocabulary
    from faults.wire.collateral import collateral
    from faults.wire import ends

    flow = tflow.tflow()
    srv, client = _server(tctx, flow)
    if client_reset_first:
        client.reset_stream(1, 0x8)
        list(srv.handle_event(events.DataReceived(tctx.client, client.data_to_send())))
    ends.mark(flow.client_conn.id, "next-flow", conn_end="rst")
    try:
        collateral(flow)
    finally:
        ends.forget(flow.client_conn.id)
    wire = flow.metadata.get(vocabulary.WIRE, {})
    assert ("client_reset_seq" in wire) is client_reset_first
    assert wire.get("collateral_of") == (None if client_reset_first else "next-flow")


def test_adopt_turns_a_running_stock_connection_into_ours(tctx):
    """A connection that started without our layer (no rule could use it then) gets it
    mid-way, when a rule selects one of its flows: the stock HTTP/2 server, with the
    streams it already has, becomes a FaultH2Server and the next kill is our frames."""
    from types import SimpleNamespace

    from faults.wire import builtin

    layer = HttpLayer(tctx, HTTPMode.regular)
    list(layer.handle_event(events.Start()))
    stock = layer.connections[tctx.client]
    assert type(stock) is _http2.Http2Server
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    client.initiate_connection()
    client.send_headers(1, [(":method", "GET"), (":path", "/"), (":scheme", "https"), (":authority", "x")],
                        end_stream=True)
    list(stock.handle_event(events.DataReceived(tctx.client, client.data_to_send())))
    flow = tflow.tflow(client_conn=tctx.client)
    layer.streams[1] = _Stream(flow)
    builtin.proxyserver().connections[tctx.client.id] = SimpleNamespace(layer=layer)
    settled = []
    assert h2layer.adopt(tctx.client, settled.append)
    assert type(layer) is h2layer.FaultHttpLayer and stock is layer.connections[tctx.client]
    assert type(stock) is h2layer.FaultH2Server and stock.http_layer is layer
    assert not h2layer.adopt(tctx.client, settled.append)  # already ours: nothing to swap
    H2.set(flow, H2Action("rst_stream", "before_response", code=0xB))
    resets = [e for e in _client_sees(client, _kill(stock)) if isinstance(e, h2.events.StreamReset)]
    assert [(r.stream_id, int(r.error_code)) for r in resets] == [(1, 0xB)]
    assert settled == [flow]


class _Rule:
    def __init__(self, level):
        self.fault = type("F", (), {"level": level})()


@pytest.mark.parametrize("transport,mode,keep_host,control,rules,want", [
    ("udp", "reverse:https://a:1", False, False, [], True),  # HTTP/3: its upstream connections
    ("tcp", "regular", False, True, [], True),  # the control endpoint
    ("tcp", "reverse:http://a:1", False, False, ["flow"], True),  # the name the client sent
    ("tcp", "reverse:http://a:1", True, False, ["flow"], False),  # keep_host_header: nothing to keep
    ("tcp", "reverse:http://a:1", False, False, ["dns"], False),  # DNS rules never select a flow
    ("tcp", "reverse:http://a:1", False, False, [], False),  # no rule: added when one is selected
    ("tcp", "regular", False, False, ["flow"], False),  # ~d reads the request: added when selected
])
def test_which_connections_get_the_layer_at_their_start(tctx, transport, mode, keep_host, control, rules, want):
    from types import SimpleNamespace

    from mitmproxy.proxy.mode_specs import ProxyMode

    tctx.client.transport_protocol = transport
    tctx.client.proxy_mode = ProxyMode.parse(mode)
    tctx.options.keep_host_header = keep_host
    injector = SimpleNamespace(rules=[_Rule(level) for level in rules])
    frames = h2layer.H2Frames(injector=injector, toxiproxy=SimpleNamespace(listeners=SimpleNamespace(plans={})))
    tctx.options.add_option("fault_control", bool, control, "the control endpoint (faults.addons.control)")
    assert frames.needs_layer_at_start(tctx) is want


# -- FaultHttpStream: a reverse-mode HTTP/1.1 exchange driven through the layer, sans-io --------
def _exchange(layer, event, hold=()):
    """Feed ``event``; answer every hook (but those of the types in ``hold``) and connection
    opening at once, as mitmproxy would."""
    from mitmproxy.connection import ConnectionState

    out, queue = [], [event]
    while queue:
        for c in layer.handle_event(queue.pop(0)):
            out.append(c)
            if isinstance(c, commands.OpenConnection):
                c.connection.state = ConnectionState.OPEN
                queue.append(events.OpenConnectionCompleted(c, None))
            elif isinstance(c, commands.StartHook) and not isinstance(c, hold):
                queue.append(events.HookCompleted(c, None))
    return out


@pytest.fixture
def reverse_layer():
    from mitmproxy.proxy.mode_specs import ProxyMode

    with taddons.context(Proxyserver()) as t:
        client = tflow.tclient_conn()
        client.proxy_mode, client.alpn = ProxyMode.parse("reverse:http://127.0.0.1:3000"), b""
        tctx = Context(client, t.options)
        tctx.server.address = ("127.0.0.1", 3000)
        layer = HttpLayer(tctx, HTTPMode.transparent)
        assert h2layer.install(layer)
        _exchange(layer, events.Start())
        yield layer


def _hooked_flow(cmds):
    return next(c for c in cmds if isinstance(c, commands.StartHook)).args()[0]


def test_the_client_name_is_kept_for_the_whole_exchange(reverse_layer):
    """Kept at the request head, before mitmproxy rewrites Host to the upstream's, and not
    overwritten when the rewritten request goes upstream: a rule decided at the response
    (``~d NAME & ~c 500``) sees the client's name too."""
    from faults import vocabulary

    cmds = _exchange(reverse_layer, events.DataReceived(reverse_layer.context.client,
                                                        b"GET /k HTTP/1.1\r\nHost: up.test:8080\r\n\r\n"))
    flow = _hooked_flow(cmds)
    assert type(reverse_layer.streams[1]) is h2layer.FaultHttpStream
    assert flow.request.host_header == "127.0.0.1:3000"  # mitmproxy's rewrite
    assert getattr(flow.request, vocabulary.CLIENT_HOST_ATTR) == "up.test:8080"
    upstream = next(c for c in cmds if isinstance(c, commands.OpenConnection)).connection
    assert any(isinstance(c, commands.SendData) and c.connection is upstream for c in cmds)  # sent upstream
    cmds = _exchange(reverse_layer, events.DataReceived(upstream, b"HTTP/1.1 500 No\r\ncontent-length: 2\r\n\r\nok"))
    assert flow.response.status_code == 500
    assert getattr(flow.request, vocabulary.CLIENT_HOST_ATTR) == "up.test:8080"


@pytest.mark.parametrize("discard", [True, False])
def test_a_request_answered_at_its_head_has_its_body_dropped(reverse_layer, discard):
    from mitmproxy import http
    from mitmproxy.proxy.layers.http import HttpRequestHeadersHook

    from faults import vocabulary

    client = reverse_layer.context.client
    head = b"POST /k HTTP/1.1\r\nHost: up.test\r\ncontent-length: 10\r\n\r\n"
    (hook,) = _exchange(reverse_layer, events.DataReceived(client, head), hold=HttpRequestHeadersHook)
    flow = hook.args()[0]
    flow.metadata[vocabulary.DISCARD_BODY] = discard  # as the control endpoint refusing it does
    flow.response = http.Response.make(403, b"no")
    assert not _exchange(reverse_layer, events.DataReceived(client, b"0123456789"))  # queued behind the hook
    cmds = _exchange(reverse_layer, events.HookCompleted(hook, None))
    assert flow.request.content == (b"" if discard else b"0123456789")
    sent = b"".join(c.data for c in cmds if isinstance(c, commands.SendData) and c.connection is client)
    assert sent.startswith(b"HTTP/1.1 403")


def test_adopt_gives_the_streams_already_open_our_class(tctx):
    from types import SimpleNamespace

    from mitmproxy.proxy.layers.http import HttpStream

    from faults.wire import builtin

    layer = HttpLayer(tctx, HTTPMode.regular)
    list(layer.handle_event(events.Start()))
    layer.streams[1] = HttpStream(tctx.fork(), 1)
    builtin.proxyserver().connections[tctx.client.id] = SimpleNamespace(layer=layer)
    assert h2layer.adopt(tctx.client)
    assert type(layer.streams[1]) is h2layer.FaultHttpStream


def test_keep_host_header_is_copied_at_configure_and_read_by_open_connections():
    """The streams read ``keep_host_header`` as ``H2Frames`` copied it at ``configure``
    (each option read deep-copies it): a change at runtime applies to the next request of a
    connection already open, as mitmproxy's own rewrite does."""
    from mitmproxy.proxy.mode_specs import ProxyMode

    from faults import vocabulary

    frames = h2layer.H2Frames()
    with taddons.context(Proxyserver(), frames) as t:
        client = tflow.tclient_conn()
        client.proxy_mode, client.alpn = ProxyMode.parse("reverse:http://127.0.0.1:3000"), b""
        tctx = Context(client, t.options)
        tctx.server.address = ("127.0.0.1", 3000)
        layer = HttpLayer(tctx, HTTPMode.transparent)
        assert h2layer.install(layer, None, frames)
        _exchange(layer, events.Start())
        kept, upstream = [], None
        for keep in (False, True, False):  # one keep-alive connection
            t.configure(frames, keep_host_header=keep)
            assert frames.keep_host_header is keep
            cmds = _exchange(layer, events.DataReceived(client, b"GET /k HTTP/1.1\r\nHost: up.test:8080\r\n\r\n"))
            flow = _hooked_flow(cmds)
            assert flow.request.host_header == ("up.test:8080" if keep else "127.0.0.1:3000")  # mitmproxy's rewrite
            kept.append(getattr(flow.request, vocabulary.CLIENT_HOST_ATTR, None))
            upstream = upstream or next(c for c in cmds if isinstance(c, commands.OpenConnection)).connection
            _exchange(layer, events.DataReceived(upstream, b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"))
        assert kept == ["up.test:8080", None, "up.test:8080"]


@pytest.mark.parametrize("version,authority,fields", [
    ("HTTP/1.1", "", [(b"Host", b"up.test:8080")]),
    ("HTTP/1.1", "", [(b"host", b"a.test"), (b"Accept", b"*/*"), (b"HOST", b"b.test")]),  # folded, as mitmproxy does
    ("HTTP/1.1", "", [(b"Accept", b"*/*")]),  # no Host: None
    ("HTTP/1.1", "", [(b"Host", b"\xff\xfe.test")]),  # not UTF-8: surrogate-escaped
    ("HTTP/1.0", "", [(b"Host", b"old.test")]),
    ("HTTP/2.0", "h2.test:443", [(b"host", b"other.test")]),  # the authority first
    ("HTTP/2.0", "", [(b"host", b"other.test")]),
    ("HTTP/3", "h3.test", []),
])
def test_host_header_reads_what_mitmproxy_reads(version, authority, fields):
    from mitmproxy import http

    f = tflow.tflow()
    f.request.http_version = version
    f.request.authority = authority
    f.request.headers = http.Headers(fields)
    assert h2layer.host_header(f.request) == f.request.host_header


def test_a_new_connection_gets_a_new_fault_layer_not_a_reclassed_one(tctx):
    """At ``next_layer`` the stock HttpLayer just built is replaced where it sits (CPython keeps
    the attributes of an object whose class is assigned in a slower dict); one already
    running is given our class in place."""
    from types import SimpleNamespace

    from mitmproxy.proxy.layer import NextLayer

    tctx.client.alpn = b""
    nl = NextLayer(tctx)
    nl.layer = stock = HttpLayer(tctx, HTTPMode.transparent)
    assert h2layer.install_new(nl, "settled", "frames")
    fresh = nl.layer
    assert type(fresh) is h2layer.FaultHttpLayer and type(stock) is HttpLayer
    assert tctx.layers == [fresh] and (fresh.on_settled, fresh.frames, fresh.mode) == ("settled", "frames", stock.mode)
    assert h2layer.install_new(nl) and nl.layer is fresh  # already ours

    tctx.layers[:] = ["mode layer"]
    nl.layer = tls = SimpleNamespace(child_layer=None)  # e.g. a ClientTLSLayer above it
    tls.child_layer = stock = HttpLayer(tctx, HTTPMode.transparent)
    assert h2layer.install_new(nl)
    assert type(tls.child_layer) is h2layer.FaultHttpLayer and tctx.layers == ["mode layer", tls.child_layer]

    tctx.layers.clear()
    nl.layer = running = HttpLayer(tctx, HTTPMode.transparent)
    list(running.handle_event(events.Start()))
    running.streams[1] = object()
    assert h2layer.install_new(nl)
    assert nl.layer is running and type(running) is h2layer.FaultHttpLayer
