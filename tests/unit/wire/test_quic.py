"""Guards for the private mitmproxy/aioquic parts that faults.wire.quic and faults.wire.h3layer
rely on: each fails loudly when an upgrade changes them (see those modules' docstrings)."""

import inspect

from mitmproxy.version import VERSION
from mitmproxy.addons.next_layer import NextLayer
from mitmproxy.proxy.layers import ClientQuicLayer
from mitmproxy.proxy.layers.http import HttpLayer
from mitmproxy.proxy.layers.http._http3 import Http3Server
from mitmproxy.proxy.layers.http._http_h3 import LayeredH3Connection

from faults.catalog import tables
from faults.classify import h3 as classify_h3
from faults.classify.clients import aioquic, curl, report_all
from faults.classify.outcome import Outcome
from faults.wire import h3layer, quic


def test_mitmproxy_version_is_the_one_the_quic_layer_was_written_for():
    assert VERSION.startswith(h3layer.TESTED_MITMPROXY + "."), VERSION


def test_builtin_next_layer_leaves_a_decided_layer_and_reverse_https_dials_quic():
    src = inspect.getsource(NextLayer.next_layer)
    assert "if nextlayer.layer:" in src and "return" in src
    # the behaviour QuicFront replaces: a QUIC client of reverse:https:// gets a QUIC server side
    assert "stack /= ServerQuicLayer(context)" in inspect.getsource(NextLayer._setup_reverse_proxy)


def test_client_quic_layer_opens_the_server_first_only_when_told():
    assert "server_tls_available" in inspect.getsource(ClientQuicLayer.__init__)
    assert "if not self.server_tls_available" in inspect.getsource(ClientQuicLayer.start_server_tls)


def test_http_layer_spreads_streams_over_http1_connections_for_h2_clients_only():
    # when mitmproxy extends its "tricky multiplexing edge case" to h3, our override can go
    src = inspect.getsource(HttpLayer.register_connection)
    assert 'self.context.client.alpn == b"h2"' in src
    sig = inspect.signature(HttpLayer.get_connection)
    assert "reuse" in sig.parameters
    for name in ("waiting_for_establishment", "command_sources", "connections"):
        assert name in inspect.getsource(HttpLayer.__init__) or name in inspect.getsource(HttpLayer), name


def test_h3_connection_has_the_calls_the_layer_uses():
    assert list(inspect.signature(LayeredH3Connection.close_stream).parameters) == [
        "self", "stream_id", "error_code", "stop_send"]
    assert list(inspect.signature(LayeredH3Connection.close_connection).parameters) == [
        "self", "error_code", "frame_type", "reason_phrase"]
    conn = LayeredH3Connection(conn=object(), is_client=False)
    assert hasattr(conn, "_quic") and hasattr(conn, "_local_control_stream_id") and hasattr(conn, "_stream")
    assert "ErrorCode.KILL" in inspect.getsource(Http3Server.__mro__[1]._handle_event)


def test_goaway_goes_out_on_the_control_stream():
    server = object.__new__(h3layer.FaultH3Server)
    server.h3_conn = LayeredH3Connection(conn=object(), is_client=False)
    list(server.h3_conn.transmit())  # the stream setup
    server.send_goaway(8)
    (cmd,) = list(server.h3_conn.transmit())
    assert cmd.stream_id == server.h3_conn._local_control_stream_id and cmd.data == b"\x07\x01\x08"


def test_listens_on_udp():
    assert quic.listens_on_udp(["reverse:https://example.com"])
    assert not quic.listens_on_udp(["regular", "reverse:http://example.com", "reverse:dns://1.1.1.1"])


def test_code_tables():
    assert tables.h3_code("h3_request_cancelled") == tables.h3_code("REQUEST_CANCELLED") == 0x10C
    assert tables.stream_code_for_h3("CANCEL") == 0x10C and tables.stream_code_for_h3("REFUSED_STREAM") == 0x10B
    assert tables.quic_code("protocol_violation") == 0xA and tables.quic_name(0x128).startswith("CRYPTO_ERROR")


def test_http3_outcomes_name_the_frame_and_each_h3_client():
    o = classify_h3.outcome_of({"h3_frame": "reset_stream", "code": 0x10C, "phase": "before_response",
                                "stream_id": 4}, {})
    o.facts.update(protocol="HTTP/3", stream_id=4)
    assert o.event == "h3.reset_stream" and "H3_REQUEST_CANCELLED" in o.summary
    reports = report_all(o)
    assert reports["curl"].error == 95 and "0x10c REQUEST_CANCELLED" in reports["curl"].message
    assert reports["aioquic"].error == "StreamReset" and reports["aioquic"].extra["error_code"] == 0x10C
    assert reports["k6"].error is None and set(reports) == {"k6", "curl", "aioquic", "chromium"}  # TCP-only: none
    close = classify_h3.outcome_of({"h3_frame": "connection_close", "code": 0xA, "quic_error_space": "transport",
                                    "phase": "before_response"}, {})
    assert close.entry == "http3.connection.transport_error" and "PROTOCOL_VIOLATION" in close.summary
    assert aioquic.report(close).extra["frame_type"] == 0
    assert curl.report(Outcome("http.response", "http.status.ok", facts={"protocol": "HTTP/3", "status": 200})).error == 0


def test_a_client_close_is_named_as_the_client_s_not_an_upstream_failure():
    o = classify_h3.client_close({"code": 0x10E, "frame_type": None, "reason": "content-length does not match data size"})
    o.facts.update(protocol="HTTP/3")
    assert o.event == "h3.client_close" and o.entry == "http3.connection.client_closed"
    assert "H3_MESSAGE_ERROR" in o.summary and o.facts["h3_error"]["space"] == "application"
    reports = report_all(o)
    assert reports["aioquic"].error == "ConnectionTerminated" and reports["aioquic"].extra["error_code"] == 0x10E
    assert reports["curl"].error == 0 and reports["curl"].retried == 1  # curl re-sends it on a new connection


def test_curl_may_resend_a_sibling_a_connection_close_ended():
    facts = {"protocol": "HTTP/3", "h3_error": {"name": "H3_INTERNAL_ERROR", "value": 0x102, "space": "application"}}
    own = curl.report(Outcome("h3.connection_close", "", facts=dict(facts)))
    sibling = curl.report(Outcome("h3.connection_close", "", facts={**facts, "collateral_of": "f1"}))
    assert [a["error"] for a in own.alt] == [55] and [a["error"] for a in sibling.alt] == [55, 0]


def test_aioquic_connection_keeps_the_close_state_the_layer_reads():
    from aioquic.quic.configuration import QuicConfiguration
    from aioquic.quic.connection import QuicConnection, QuicConnectionState
    conn = QuicConnection(configuration=QuicConfiguration(is_client=True))
    assert conn._close_event is None and conn._state != QuicConnectionState.DRAINING
    assert hasattr(ClientQuicLayer, "receive_close") and "quic" in inspect.signature(ClientQuicLayer.__init__).parameters \
        or "self.quic" in inspect.getsource(ClientQuicLayer.__mro__[1])


def test_aioquic_close_before_the_first_flight_sends_only_the_close():
    # handshake=alert|close: close() right after the ClientHello is read; the next flight is the close
    from aioquic.quic.connection import QuicConnection
    params = inspect.signature(QuicConnection.close).parameters
    assert list(params)[1:] == ["error_code", "frame_type", "reason_phrase"]
    src = inspect.getsource(QuicConnection.datagrams_to_send)
    assert "if self._close_pending:" in src and "_write_connection_close_frame" in src
    assert "receive_datagram" in inspect.getsource(ClientQuicLayer)  # the call our wrapper stands in for


def test_tls_handshake_faults_on_quic_are_applied_or_refused_with_a_reason():
    from faults import spec
    from faults.kinds import instantiate
    for how in ("alert", "close"):
        assert instantiate(spec.parse(f"tls handshake={how}")[0]).quic_refusal() is None
    for how in ("stall", "reset", "plaintext"):
        assert "no QUIC counterpart" in instantiate(spec.parse(f"tls handshake={how}")[0]).quic_refusal()


def test_alt_svc_options():
    import pytest
    from mitmproxy import exceptions
    from mitmproxy.test import taddons, tflow

    front = quic.QuicFront()
    with taddons.context(front) as tctx:
        tctx.configure(front, mode=["reverse:https://example.com"], fault_alt_svc=True)
        f = tflow.tflow(resp=True)
        f.client_conn.sockname = ("127.0.0.1", 8443)
        front.responseheaders(f)
        assert f.response.headers["alt-svc"] == 'h3=":8443"; ma=3600'
        tctx.configure(front, fault_alt_svc=False, fault_strip_alt_svc=True)
        f.response.headers["alt-svc"] = 'h3=":443"'
        front.responseheaders(f)
        assert "alt-svc" not in f.response.headers
        with pytest.raises(exceptions.OptionsError, match="no --mode listens on UDP"):
            tctx.configure(front, mode=["regular"], fault_strip_alt_svc=False, fault_alt_svc=True)
        with pytest.raises(exceptions.OptionsError, match="choose one"):
            tctx.configure(front, mode=["reverse:https://example.com"], fault_alt_svc=True, fault_strip_alt_svc=True)


def test_stop_sending_after_our_reset_is_skipped():
    """aioquic asserts when a peer's STOP_SENDING meets a stream it already reset; the guard
    on our client QUIC connections skips it (and still handles the others)."""
    from aioquic.buffer import Buffer
    from aioquic.quic.configuration import QuicConfiguration
    from aioquic.quic.connection import QuicConnection

    q = QuicConnection(configuration=QuicConfiguration(is_client=True))
    assert quic.STOP_SENDING in q._QuicConnection__frame_handlers
    quic.guard_stop_sending(q)
    sid = q.get_next_available_stream_id()
    q.send_stream_data(sid, b"x")
    q.reset_stream(sid, 0x10C)
    buf = Buffer(capacity=16)
    buf.push_uint_var(sid)
    buf.push_uint_var(0x10C)
    buf.seek(0)
    handle, _ = q._QuicConnection__frame_handlers[quic.STOP_SENDING]
    handle(None, quic.STOP_SENDING, buf)  # unguarded: AssertionError "cannot call reset() more than once"
    assert q._streams[sid].sender._reset_error_code == 0x10C


def test_a_retransmitted_fin_ends_the_stream_once():
    """aioquic reports a stream's end again for a retransmitted FIN, and mitmproxy's HTTP/3
    layer closes the connection on it (the guards: when either changes, re-check
    drop_repeated_fin); on our client QUIC connections only the first end goes up."""
    from aioquic.quic.configuration import QuicConfiguration
    from aioquic.quic.connection import QuicConnection
    from aioquic.quic.events import StreamDataReceived

    assert "stream already ended" in inspect.getsource(LayeredH3Connection.handle_stream_event)

    def ends(guarded: bool) -> list:
        q = QuicConnection(configuration=QuicConfiguration(is_client=True))  # the peer's streams: 1, 5
        if guarded:
            quic.drop_repeated_fin(q)
        for _ in range(2):  # a request's STREAM frame (length, FIN), then its retransmission
            q._handle_stream_frame(None, 0x08 | 0x02 | 0x01, _frame(1, b"GET"))
        q._handle_stream_frame(None, 0x08 | 0x02, _frame(5, b"x"))  # another stream: untouched
        out = []
        while (ev := q.next_event()) is not None:
            if isinstance(ev, StreamDataReceived):
                out.append((ev.stream_id, ev.data, ev.end_stream))
        return out

    assert ends(False) == [(1, b"GET", True), (1, b"", True), (5, b"x", False)]
    assert ends(True) == [(1, b"GET", True), (5, b"x", False)]


def _frame(stream_id: int, data: bytes):
    from aioquic.buffer import Buffer

    buf = Buffer(capacity=16)
    buf.push_uint_var(stream_id)
    buf.push_uint_var(len(data))
    buf.push_bytes(data)
    buf.seek(0)
    return buf


def test_a_close_s_origin_is_read_from_the_frames_that_carry_it():
    """record_close_origin wraps the CONNECTION_CLOSE frame handlers and ``close``: the
    frames a received close comes in, the call a sent one goes through."""
    from aioquic.quic.configuration import QuicConfiguration
    from aioquic.quic.connection import QuicConnection

    q = QuicConnection(configuration=QuicConfiguration(is_client=True))
    handlers = q._QuicConnection__frame_handlers
    for frame in quic.CONNECTION_CLOSE_FRAMES:
        assert handlers[frame][0].__name__ == "_handle_connection_close_frame"
    assert "self._close_event = events.ConnectionTerminated" in inspect.getsource(QuicConnection.close)
    quic.record_close_origin(q)
    assert quic.close_seen(q) is None
    q.close(error_code=0xA, reason_phrase="stream already ended")
    assert quic.close_seen(q) == {"by": "proxy", "code": 0xA, "frame_type": None, "reason": "stream already ended"}


def test_upstream_quic_connections_are_guarded_too():
    """fault_h3_upstream=quic: the first upstream connection is our FaultServerQuicLayer's; the
    others mitmproxy's HttpLayer builds per stream with its own ServerQuicLayer, which becomes
    ours right after ``get_connection`` (``guard_upstreams``), before its QUIC connection starts:
    its ``start_tls`` guards it, once."""
    from aioquic.quic.configuration import QuicConfiguration
    from aioquic.quic.connection import QuicConnection
    from mitmproxy.proxy import commands, tunnel
    from mitmproxy.proxy.context import Context
    from mitmproxy.proxy.layers.http import GetHttpConnection, HTTPMode
    from mitmproxy.test import taddons, tflow

    from faults.wire.h2layer import FaultH3HttpLayer

    assert "quic.ServerQuicLayer(context)" in inspect.getsource(HttpLayer.get_connection)
    assert "self.connections[context.server] = stack[0]" in inspect.getsource(HttpLayer.get_connection)
    # the QUIC connection starts only once the connection has opened: after get_connection returned
    opening = inspect.getsource(tunnel.TunnelLayer._handle_command)
    assert opening.index("yield commands.OpenConnection(self.tunnel_connection)") < opening.index("start_handshake()")
    assert "yield from self.start_tls(None)" in inspect.getsource(quic.layers.ServerQuicLayer.start_handshake)
    with taddons.context() as t:
        client = tflow.tclient_conn()
        client.alpn, client.transport_protocol = b"h3", "udp"
        layer = FaultH3HttpLayer(Context(client, t.options), HTTPMode.transparent)
        ask = GetHttpConnection(("upstream.test", 443), True, None, transport_protocol="udp")
        cmds = list(layer.get_connection(ask, reuse=False))
    opened = [c for c in cmds if isinstance(c, commands.OpenConnection)]
    assert len(opened) == 1 and opened[0].connection.transport_protocol == "udp"
    upstream = layer.connections[opened[0].connection]
    assert type(upstream) is quic.FaultServerQuicLayer and upstream.quic is None  # ours, not started yet
    # what its start_tls then does (guard_connection), once
    q = QuicConnection(configuration=QuicConfiguration(is_client=True))
    next_event = q.next_event
    quic.guard_connection(q)
    wrapped = q.next_event
    assert wrapped != next_event and wrapped.__name__ == "first_end_only"  # drop_repeated_fin in place
    quic.guard_connection(q)
    assert q.next_event is wrapped  # once only
