"""``FaultH3Server`` (faults/wire/h3layer.py) reads the typed ``H3Action`` a fault asked
for: the frames it sends, what it keeps back for a pace or a hold. (Guards for the private
mitmproxy/aioquic parts it relies on: tests/unit/wire/test_quic.py.)"""

import uuid
from types import SimpleNamespace

import pytest
from aioquic.h3.connection import ErrorCode as H3ErrorCode
from mitmproxy.proxy import events
from mitmproxy.proxy.layers.http import ErrorCode, GetHttpConnectionCompleted, RequestProtocolError, ResponseData
from mitmproxy.proxy.layers.http._base import ReceiveHttp
from mitmproxy.test import tflow

from faults import vocabulary
from faults.wire import actions, ends
from faults.wire.actions import H3Action
from faults.wire.h3layer import TRANSPORT_FRAME_TYPE, FaultH3Server, UploadRead


class _Conn:
    """What the layer calls on mitmproxy's LayeredH3Connection, written down."""

    def __init__(self):
        self.calls = []

    def close_stream(self, sid, code, stop_send=True):
        self.calls.append(("reset_stream", sid, code, stop_send))

    def close_connection(self, code, frame_type=None, reason=""):
        self.calls.append(("connection_close", code, frame_type, reason))

    def transmit(self):
        return iter(())

    def get_open_stream_ids(self):
        return []


@pytest.fixture
def server():
    """The layer without mitmproxy's stack under it: one known stream (4) and its flow."""
    s = object.__new__(FaultH3Server)
    s.context = SimpleNamespace(client=SimpleNamespace(id=str(uuid.uuid4())), layers=[])
    s.http_layer, s.on_settled, s.h3_conn = None, None, _Conn()
    s.known, s.held, s.timers = {4: tflow.tflow()}, {}, {}
    s.closing, s.goaway_id, s.drained, s.gone = None, None, False, False
    s.send_goaway = lambda sid: s.h3_conn.calls.append(("goaway", sid))
    yield s
    ends.forget(s.context.client.id)


def _ask(server, action: H3Action) -> H3Action:
    return actions.H3.set(server.known[4], action)


def test_reset_stream_goes_out_with_its_code(server):
    flow = server.known[4]
    act = _ask(server, H3Action("reset_stream", "before_response", code=0x10C, stop_sending=True))
    assert server.action_of(4) is act and server.action_of(8) is None
    list(server.fire(4, act))
    assert act.fired and server.h3_conn.calls == [("reset_stream", 4, 0x10C, True)]
    assert "ended_seq" in flow.metadata[vocabulary.WIRE]


def test_a_transport_close_names_no_frame_and_ends_the_connection(server):
    act = _ask(server, H3Action("connection_close", "before_response", code=0xA, quic_error_space="transport",
                                reason="fault: bye"))
    list(server.fire(4, act))
    assert server.h3_conn.calls == [("connection_close", 0xA, TRANSPORT_FRAME_TYPE, "fault: bye")]
    assert ends.of(server.context.client.id)["quic_error_space"] == "transport"


def test_an_application_close_is_an_h3_one(server):
    list(server.fire(4, _ask(server, H3Action("connection_close", "mid_body", code=0x102))))
    assert server.h3_conn.calls == [("connection_close", 0x102, None, "")]
    assert ends.of(server.context.client.id)["quic_error_space"] == "application"


def test_a_draining_goaway_that_ends_its_stream_rejects_it(server):
    act = _ask(server, H3Action("goaway", "before_response", code=0x100, goaway_id=8, then="drain",
                                stream_ended=True))
    list(server.fire(4, act))
    assert server.goaway_id == 8 and server.closing is None
    assert server.h3_conn.calls == [("goaway", 8), ("reset_stream", 4, H3ErrorCode.H3_REQUEST_REJECTED, False)]


def test_a_goaway_then_close_closes_with_its_code(server):
    list(server.fire(4, _ask(server, H3Action("goaway", "after_headers", code=0x102, goaway_id=4))))
    assert server.h3_conn.calls == [("goaway", 4)] and server.closing["code"] == 0x102


def test_pace_keeps_the_data_back_in_parts_of_20_ms(server):
    _ask(server, H3Action("pace", rate=500))
    assert server.keeps(ResponseData(4, b"x" * 25)) == "pace"
    assert [len(e.data) for e in server.held[4]] == [10, 10, 5]
    assert server.keeps(ResponseData(4, b"y")) is True  # behind what is kept


def test_hold_keeps_back_what_follows_its_point_only(server):
    act = _ask(server, H3Action("hold", "mid_body", hold_ms=250))
    assert server.keeps(ResponseData(4, b"a")) is False  # not at its point yet
    act.hold_now = True
    assert server.keeps(ResponseData(4, b"b")) == "hold" and act.fired and len(server.held[4]) == 1
    assert server.keeps(ResponseData(8, b"c")) is False  # another stream, no action


def test_an_upload_cut_asked_for_in_queued_body_goes_out_when_the_stream_read_it(server):
    """Under load the whole upload arrives while the stream waits for a hook (or its upstream
    connection): the cut is asked for when the stream reads that body, and no more data comes
    to fire it at (the upload hung until the client's timeout)."""
    act = _ask(server, H3Action("reset_stream", "mid_request", code=0x10C, stop_sending=True))
    out = list(server._handle_event(UploadRead(4)))
    assert act.fired and server.h3_conn.calls == [("reset_stream", 4, 0x10C, True)]
    (ended,) = [c.event for c in out if isinstance(c, ReceiveHttp)]  # the request ends upstream too
    assert isinstance(ended, RequestProtocolError) and ended.stream_id == 4 and ended.code == ErrorCode.CANCEL
    assert list(server._handle_event(UploadRead(4))) == [] and len(server.h3_conn.calls) == 1  # once


def test_an_upload_read_fires_nothing_else(server):
    _ask(server, H3Action("reset_stream", "before_response", code=0x10C))  # fired at the kill, not here
    assert list(server._handle_event(UploadRead(4))) == [] and list(server._handle_event(UploadRead(8))) == []
    assert server.h3_conn.calls == []


def test_guard_the_stream_gets_its_upstream_connection_as_a_command_completed():
    # FaultHttpLayer looks for a cut after every CommandCompleted a stream gets (hooks, and this)
    assert issubclass(GetHttpConnectionCompleted, events.CommandCompleted)


# -- who closed the QUIC connection: the client, or the proxy's own stack --------------
def _watched_quic(server):
    """A real aioquic connection under the layer, watched as ``FaultClientQuicLayer`` does."""
    from aioquic.quic.configuration import QuicConfiguration
    from aioquic.quic.connection import QuicConnection

    from faults.wire import quic

    q = QuicConnection(configuration=QuicConfiguration(is_client=True))
    quic.record_close_origin(q)
    server.context.layers = [SimpleNamespace(conn=server.context.client, quic=q)]
    server.h3_conn.get_open_stream_ids = lambda: [4]
    return q


def _receive_close(q, code: int, reason: str) -> None:
    """The peer's CONNECTION_CLOSE (0x1d) frame, as aioquic's packet parser hands it over."""
    from aioquic.buffer import Buffer

    data = reason.encode()
    buf = Buffer(capacity=64)
    buf.push_uint_var(code)
    buf.push_uint_var(len(data))
    buf.push_bytes(data)
    buf.seek(0)
    handle, _ = q._QuicConnection__frame_handlers[0x1D]
    handle(SimpleNamespace(time=0.0, quic_logger_frames=[]), 0x1D, buf)


def _closed(server, q, flow):
    server.known[4] = flow  # still open when mitmproxy tells the layer
    server.client_closed(server.close_not_ours())  # as the layer does at QuicConnectionClosed
    return flow.metadata.get(vocabulary.WIRE, {})


def test_a_close_the_client_sent_is_the_client_s(server):
    q = _watched_quic(server)
    _receive_close(q, 0x10E, "content-length does not match data size")
    wire = _closed(server, q, server.known[4])
    assert wire["h3_client_close"] == {"by": "client", "code": 0x10E, "frame_type": None,
                                       "reason": "content-length does not match data size"}
    assert "h3_proxy_close" not in wire


def test_a_close_the_proxy_s_own_stack_sent_is_the_proxy_s(server):
    """mitmproxy's HTTP/3 layer closes the connection itself (PROTOCOL_VIOLATION "stream
    already ended"): once blamed on the client."""
    q = _watched_quic(server)
    q.close(error_code=0xA, reason_phrase="stream already ended")
    _receive_close(q, 0x100, "")  # the client's answer to it: it began nothing
    wire = _closed(server, q, server.known[4])
    assert wire["h3_proxy_close"] == {"by": "proxy", "code": 0xA, "frame_type": None, "reason": "stream already ended"}
    assert "h3_client_close" not in wire


def test_a_close_by_a_fault_of_ours_is_left_to_the_fault_s_record(server):
    q, flow = _watched_quic(server), server.known[4]
    list(server.fire(4, _ask(server, H3Action("connection_close", "before_response", code=0x107))))
    q.close(error_code=0x107)  # what mitmproxy's layer does with the fault's close_connection
    wire = _closed(server, q, flow)
    assert not {"h3_client_close", "h3_proxy_close"} & wire.keys()


def test_an_answer_written_after_the_proxy_closed_names_the_proxy_s_close(server):
    """Settled before mitmproxy tells the layer (a draining period later): the close is read
    from aioquic at once."""
    q, flow = _watched_quic(server), server.known[4]
    server.settled(4)
    assert "h3_proxy_close" not in flow.metadata.get(vocabulary.WIRE, {})  # open: nothing to say
    server.known[4] = flow
    q.close(error_code=0x101, reason_phrase="Invalid HTTP/3 request headers")
    server.settled(4)
    assert flow.metadata[vocabulary.WIRE]["h3_proxy_close"]["code"] == 0x101


def test_an_idle_timeout_is_nobody_s_close(server):
    q = _watched_quic(server)
    q._close_at = 1.0  # armed by aioquic once the connection runs: its idle timeout
    q.handle_timer(now=2.0)
    assert q._close_event is not None and q._close_event.reason_phrase == "Idle timeout"
    assert not {"h3_client_close", "h3_proxy_close"} & _closed(server, q, server.known[4]).keys()


def test_a_connection_close_is_read_once_for_every_stream_it_ends(server, monkeypatch):
    """At QuicConnectionClosed the close is read once (held, open and settled streams alike) and
    the client's aioquic connection is looked up in the layers once per server."""
    from mitmproxy.proxy.layers.http._http3 import Http3Server
    from mitmproxy.proxy.layers.quic import QuicConnectionClosed

    from faults.wire import quic

    q = _watched_quic(server)
    flows = {sid: tflow.tflow() for sid in (4, 8, 12)}
    server.known = dict(flows)
    server.held = {12: []}  # a stall the close ends
    server.http_layer = SimpleNamespace(streams={8: SimpleNamespace(flow=flows[8])})
    lookups, reads = [], []
    monkeypatch.setattr(quic, "client_quic", lambda context, find=quic.client_quic: lookups.append(1) or find(context))
    read = server.close_not_ours
    server.close_not_ours = lambda: reads.append(1) or read()
    monkeypatch.setattr(Http3Server, "_handle_event", lambda self, event: iter(()))  # mitmproxy's part: not here
    _receive_close(q, 0x10E, "content-length does not match data size")
    ev = q._close_event
    list(server._handle_event(QuicConnectionClosed(server.context.client, ev.error_code, ev.frame_type,
                                                   ev.reason_phrase)))
    assert len(reads) == 1 and len(lookups) == 1
    for f in flows.values():
        assert f.metadata[vocabulary.WIRE]["h3_client_close"]["code"] == 0x10E
    assert flows[12].metadata[vocabulary.WIRE]["hold_end"] == "client_gone"
    server.settled(4)  # a later lookup finds the connection kept
    assert len(lookups) == 1
