"""The one module that reaches into mitmproxy's private HTTP/3 layer.

mitmproxy answers a killed HTTP/3 flow with RESET_STREAM H3_INTERNAL_ERROR and has
no public way to choose a stream's error code, to send an HTTP/3 GOAWAY or to close
the QUIC connection with a chosen transport or application error. As for HTTP/2
(``faults.wire.h2layer``), this is done inside mitmproxy's own layer stack:

- ``FaultH3HttpLayer`` (in ``h2layer``), on ``Start`` for a client that negotiated
  ``h3``, puts a ``FaultH3Server`` (subclass of the private ``Http3Server``) into
  ``connections[client]`` before the stock code runs its ``setdefault``;
- a fault kind asks for an ``H3Action`` through ``Act`` (kept per flow in
  ``faults.wire.actions.H3``) and, where the stream must end, calls ``flow.kill()``;
  ``FaultH3Server`` turns that stream's ``ResponseProtocolError(KILL)`` into the
  action's frames, through mitmproxy's own ``LayeredH3Connection`` (``close_stream``:
  RESET_STREAM and STOP_SENDING; ``close_connection``: CONNECTION_CLOSE) and, for
  GOAWAY, aioquic's control stream (``_quic``, ``_local_control_stream_id``: private
  attributes);
- ``get_connection``/``register_connection`` of ``FaultH3HttpLayer`` call
  ``multiplex_reuse``/``split_waiting`` here: an HTTP/1.1 upstream carries one request
  at a time, and mitmproxy 12.3 spreads concurrent streams over several upstream
  connections only for an ``h2`` client (an ``h3`` client's streams all went to one
  HTTP/1.1 connection, and the second crashed it with an AssertionError).

``tests/unit/wire/test_h3layer.py`` fails loudly when a mitmproxy or aioquic upgrade
breaks any of this.
"""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass

from aioquic.buffer import encode_uint_var
from aioquic.h3.connection import ErrorCode as H3ErrorCode
from aioquic.h3.connection import FrameType, encode_frame
from mitmproxy.proxy import events
from mitmproxy.proxy.commands import RequestWakeup
from mitmproxy.proxy.layers.http import (ErrorCode, GetHttpConnectionCompleted, HttpLayer, RequestProtocolError, ResponseData, ResponseEndOfMessage, ResponseHeaders,
                                         ResponseProtocolError, is_h3_alpn)
from mitmproxy.proxy.layers.http._base import HttpEvent, ReceiveHttp
from mitmproxy.proxy.layers.http._http3 import Http3Server
from mitmproxy.proxy.layers.quic import (QuicConnectionClosed, QuicStreamDataReceived, QuicStreamReset,
                                         QuicStreamStopSending)

from faults import vocabulary
from faults.wire import actions, ends, quic
from faults.wire.actions import H3Action

log = logging.getLogger(__name__)

TESTED_MITMPROXY = "12.3"
CLOSE_DELAY = 0.1  # s: between a GOAWAY and the CONNECTION_CLOSE that follows it
NO_ERROR = (0x0, H3ErrorCode.H3_NO_ERROR)  # a client's close with these is no error (it gave up, or was done)
TRANSPORT_FRAME_TYPE = 0x0  # a transport CONNECTION_CLOSE names the frame that caused it: PADDING, i.e. none

_servers: weakref.WeakValueDictionary = weakref.WeakValueDictionary()  # client connection id -> its layer
_UNREAD = object()  # settled()/gave_up() without the connection's close in hand: read it (close_not_ours)


def h3_client(context) -> bool:
    return is_h3_alpn(context.client.alpn)


# -- HTTP/3 clients and HTTP/1.1 upstreams --------------------------------------------
def get_connection(layer, event, reuse: bool):
    """``HttpLayer.get_connection`` for an HTTP/3 client: share an upstream connection
    only when it speaks HTTP/2, or is still being set up (``split_waiting`` then gives
    each waiting stream but the first its own, if it is not HTTP/2); else a new one."""
    if reuse and h3_client(layer.context):
        for conn in list(layer.connections):
            if not event.connection_spec_matches(conn) or conn.error:
                continue
            if conn in layer.waiting_for_establishment:
                layer.waiting_for_establishment[conn].append(event)
                return
            if conn.connected and conn.alpn == b"h2":
                stream = layer.command_sources.pop(event)
                yield from layer.event_to_child(stream, GetHttpConnectionCompleted(event, (conn, None)))
                return
        reuse = False
    yield from HttpLayer.get_connection(layer, event, reuse=reuse)


def split_waiting(layer, command) -> list:
    """``register_connection`` for an HTTP/3 client: the streams that waited for a new
    upstream connection that is not HTTP/2, but the first; each gets its own."""
    if command.err or command.connection.alpn == b"h2" or not h3_client(layer.context):
        return []
    waiting = layer.waiting_for_establishment.get(command.connection, [])
    rest = waiting[1:]
    del waiting[1:]
    return rest


# -- the server side of an HTTP/3 client connection ------------------------------------
@dataclass
class UploadRead(events.Event):
    """To ``FaultH3Server`` from ``FaultH3HttpLayer``: a request stream of this connection
    read body that had waited (mitmproxy queues a stream's events while its ``requestheaders``
    hook runs, or while its upstream connection opens), and an upload cut was asked for in
    it. No more of the upload may come (under load the whole body arrives meanwhile), so the
    cut's frames go out now, not at the stream's next data."""

    stream_id: int


class FaultH3Server(Http3Server):
    http_layer = None
    on_settled = None  # called with a flow once what its client sees is settled (H2Frames hands it over)
    _client_quic = None  # the client's aioquic connection, once found (``client_quic``)

    def __init__(self, context):
        super().__init__(context)
        _servers[context.client.id] = self
        self.known: dict[int, object] = {}  # stream id -> flow, remembered on first sight
        self.closing: dict | None = None  # a CONNECTION_CLOSE due at the next wakeup
        self.goaway_id: int | None = None  # after our GOAWAY: client streams at or above it are refused
        self.drained = False  # a draining GOAWAY's streams are done (the close is due or sent)
        self.held: dict[int, list] = {}  # stream id -> response events kept back (hold, pace)
        self.timers: dict[RequestWakeup, int] = {}  # our wakeups -> the stream they release a part of
        self.gone = False  # the QUIC connection is closed: nothing more is written

    def flow_of(self, sid: int):
        flow = self.known.get(sid)
        if flow is None and self.http_layer is not None:
            flow = getattr(self.http_layer.streams.get(sid), "flow", None)
            if flow is not None:
                self.known[sid] = flow
        return flow

    def action_of(self, sid: int) -> H3Action | None:
        flow = self.flow_of(sid)
        return actions.H3.of(flow) if flow is not None else None

    def _handle_event(self, event):
        if isinstance(event, events.Wakeup) and event.command in self.timers:
            yield from self.release(self.timers.pop(event.command))
            return
        if isinstance(event, events.Wakeup) and self.closing is not None:
            yield from self.close_now()
            return
        if isinstance(event, HttpEvent):
            kept = self.keeps(event)
            if kept in ("pace", "hold"):  # the first part goes out now; the rest as timed
                yield from self.release(event.stream_id)
            if kept:
                return
        if isinstance(event, (QuicStreamReset, QuicStreamStopSending)) and event.stream_id in self.held:
            self.gave_up(event.stream_id)  # the client left a stream we hold back (its own timeout)
        elif isinstance(event, QuicConnectionClosed):
            seen = self.close_not_ours()  # read once: every stream ends with the same close
            for sid in list(self.held):
                self.gave_up(sid, seen)
            self.client_closed(seen)
            yield from super()._handle_event(event)
            self.gone = True  # mitmproxy's layer ignores what follows: every stream is settled now
            for sid in list(self.http_layer.streams if self.http_layer else ()):
                self.settled(sid, seen)
            return
        if isinstance(event, QuicStreamDataReceived) and self.refused(event.stream_id):
            yield from self.refuse(event.stream_id)
            return
        if isinstance(event, QuicStreamDataReceived):
            # request body in: mitmproxy hands it to the flow's request stream now, where an
            # upload cut (when=mid_request) may ask for its frames: they go out right away
            yield from super()._handle_event(event)
            yield from self.cut_upload(event.stream_id)
            return
        if isinstance(event, UploadRead):
            yield from self.cut_upload(event.stream_id)
            return
        if isinstance(event, HttpEvent):
            sid = event.stream_id
            if isinstance(event, ResponseHeaders):
                self.flow_of(sid)
            act = self.action_of(sid)
            if act is not None and not act.fired and act.h3_frame not in ("pace", "hold"):
                if isinstance(event, ResponseProtocolError) and event.code == ErrorCode.KILL:
                    yield from self.fire(sid, act)
                    return
                if isinstance(event, ResponseHeaders) and act.phase == "before_response":
                    yield from self.fire(sid, act)  # a GOAWAY that lets this stream finish
                    yield from super()._handle_event(event)
                    return
                if ((isinstance(event, ResponseHeaders) and act.phase == "after_headers")
                        or (isinstance(event, ResponseEndOfMessage) and act.phase == "after_response")
                        or (isinstance(event, ResponseData) and act.cut_now)):
                    yield from super()._handle_event(event)
                    yield from self.fire(sid, act)
                    return
            if isinstance(event, (ResponseEndOfMessage, ResponseProtocolError)):
                yield from super()._handle_event(event)
                self.settled(sid)
                yield from self.maybe_drained()
                return
        yield from super()._handle_event(event)

    def our_close(self) -> bool:
        """A fault of ours closed (or is closing) this connection."""
        return ends.of(self.context.client.id) is not None or self.closing is not None or self.drained

    def close_not_ours(self) -> tuple[str, dict] | None:
        """The connection's close that no fault of ours sent, as its wire-record key and value:
        ``h3_client_close`` (the client's CONNECTION_CLOSE arrived: aioquic after a short body on
        another stream, H3_MESSAGE_ERROR; curl: ERR_CLOSING) or ``h3_proxy_close`` (this side's
        stack sent it: mitmproxy's HTTP/3 layer, e.g. PROTOCOL_VIOLATION "stream already ended",
        aioquic itself, the proxy's shutdown). Read from aioquic as soon as the close begins
        (``faults.wire.quic.close_seen``): mitmproxy tells this layer a draining period later,
        and answers written meanwhile vanish. A client's close without error (NO_ERROR,
        H3_NO_ERROR: it gave up, or was done) and a timeout are not reported."""
        close = quic.close_seen(self.client_quic())
        if close is None or (close["by"] == "client" and close["code"] in NO_ERROR):
            return None
        if close["by"] == "proxy" and self.our_close():
            return None
        return f"h3_{close['by']}_close", close

    def client_quic(self):
        """The client's aioquic connection (``faults.wire.quic.client_quic``): looked up in the
        layers once, then kept (the connection's ``ClientQuicLayer`` keeps it for its lifetime)."""
        if self._client_quic is None:
            self._client_quic = quic.client_quic(self.context)
        return self._client_quic

    def client_closed(self, seen: tuple[str, dict] | None) -> None:
        """The connection closed and no fault of ours closed it (``seen``: ``close_not_ours``): the
        streams still open end with it (mitmproxy reports them as an upstream failure named by
        the reason); their records say who closed it."""
        if seen is None:
            return
        for sid in self.h3_conn.get_open_stream_ids():
            flow = self.flow_of(sid)
            if flow is not None:
                flow.metadata.setdefault(vocabulary.WIRE, {}).setdefault(*seen)

    def maybe_drained(self):
        """After a draining GOAWAY: once no stream it let through is still open, close the
        connection (H3_NO_ERROR) as a server going away does."""
        if self.goaway_id is None or self.closing is not None or self.drained:
            return
        if any(sid % 4 == 0 and sid < self.goaway_id for sid in self.h3_conn.get_open_stream_ids()):
            return
        self.drained = True
        self.closing = {"code": H3ErrorCode.H3_NO_ERROR, "transport": False, "reason": "fault: GOAWAY drained"}
        yield RequestWakeup(CLOSE_DELAY)

    # -- hold and pace: response events kept back, then released --------------------
    def keeps(self, event) -> bool:
        """A stall (``hold``) or throttle (``pace``) on this stream: keep ``event`` back
        (True), or let it through now (False)."""
        sid = event.stream_id
        if isinstance(event, ResponseProtocolError):
            self.held.pop(sid, None)  # the stream ends: what was kept never goes out
            return False
        act = self.action_of(sid)
        how = act.h3_frame if act is not None else None
        if sid in self.held:
            self.held[sid].append(event)
            return True
        if how == "pace" and isinstance(event, ResponseData):
            step = max(1, act.rate // 50)  # 20 ms worth of bytes per part
            self.held[sid] = [ResponseData(sid, event.data[i:i + step]) for i in range(0, len(event.data), step)]
            return "pace"
        if how == "hold" and act.hold_now and not act.fired and isinstance(event, ResponseData):
            act.fired = True  # this data (the part before the pause) goes out; what follows is kept
            self.held[sid] = [event]
            return "hold"
        return False

    def gave_up(self, sid: int, seen=_UNREAD) -> None:
        """The client gave up on a held or paced stream: what it saw is the pause."""
        self.held.pop(sid, None)
        flow = self.flow_of(sid)
        if flow is not None:
            flow.metadata.setdefault(vocabulary.WIRE, {}).update(client_gave_up=True, hold_end="client_gone")
        self.settled(sid, seen)

    def release(self, sid: int):
        """Let kept events of ``sid`` out: all of them (a stall's end), or the next part of
        a paced body, then wait as long as that part takes at the rate."""
        kept = self.held.get(sid)
        if kept is None:
            return
        act = self.action_of(sid)
        if act is not None and act.h3_frame == "hold":
            if act.holding:  # the pause is over: everything kept goes out, in order
                del self.held[sid]
                for ev in kept:
                    yield from super()._handle_event(ev)
                    if isinstance(ev, ResponseEndOfMessage):
                        self.settled(sid)
                return
            act.holding = True  # the data before the pause goes out; the rest waits
            yield from super()._handle_event(kept.pop(0))
            if act.hold_ms is not None:
                wake = RequestWakeup(act.hold_ms / 1000)
                self.timers[wake] = sid
                yield wake
            return
        while kept and not isinstance(kept[0], ResponseData):
            ev = kept.pop(0)
            yield from super()._handle_event(ev)
            if isinstance(ev, ResponseEndOfMessage):
                self.settled(sid)
        if not kept:
            del self.held[sid]
            return
        part = kept.pop(0)
        yield from super()._handle_event(part)
        wake = RequestWakeup(len(part.data) / act.rate)
        self.timers[wake] = sid
        yield wake

    def settled(self, sid: int, seen=_UNREAD) -> None:
        """What the client sees of this stream is settled. ``seen``: the connection's close
        (``close_not_ours``) when the caller read it already (at the close, once for every stream)."""
        flow = self.known.pop(sid, None) or self.flow_of(sid)
        self.known.pop(sid, None)
        if flow is not None and seen is _UNREAD:
            seen = self.close_not_ours()
        if flow is not None and seen is not None:  # our answer went into a connection closed (not by us)
            flow.metadata.setdefault(vocabulary.WIRE, {}).setdefault(*seen)
        if flow is not None and self.on_settled is not None:
            self.on_settled(flow)

    def cut_due(self, sid: int) -> bool:
        """An upload cut (``when=mid_request``) was asked for on this stream and has not gone
        out, and the connection is open (once closed, mitmproxy's layer takes no other event)."""
        act = self.action_of(sid)
        return (act is not None and act.phase == "mid_request" and not act.fired
                and self._handle_event != self.done)  # done: mitmproxy's, from the close on (``gone`` follows it)

    def cut_upload(self, sid: int):
        """A due upload cut: its frames now, and the request ends upstream too."""
        if not self.cut_due(sid):
            return
        act = self.action_of(sid)
        yield from self.fire(sid, act)
        if act.h3_frame == "reset_stream":
            yield ReceiveHttp(RequestProtocolError(sid, "fault: RESET_STREAM during the upload", code=ErrorCode.CANCEL))

    # -- frames ------------------------------------------------------------------
    def fire(self, sid: int, act: H3Action):
        act.fired = True
        flow = self.flow_of(sid)
        if flow is not None:
            flow.metadata.setdefault(vocabulary.WIRE, {})["ended_seq"] = ends.tick()
        frame = act.h3_frame
        if frame == "reset_stream":
            self.h3_conn.close_stream(sid, act.code, stop_send=act.stop_sending)
        elif frame == "goaway":
            self.goaway_id = act.goaway_id if self.goaway_id is None else min(self.goaway_id, act.goaway_id)
            self.send_goaway(self.goaway_id)
            if act.stream_ended and act.then != "close":
                self.h3_conn.close_stream(sid, H3ErrorCode.H3_REQUEST_REJECTED, stop_send=False)
            if act.then == "close":
                self.mark_ended(sid, h3_frame="connection_close", code=act.code, quic_error_space="application")
                self.closing = {"code": act.code, "transport": False, "reason": "fault: GOAWAY then close"}
                yield from self.h3_conn.transmit()
                yield RequestWakeup(CLOSE_DELAY)
                self.settled(sid)
                return
        elif frame == "connection_close":
            self.mark_ended(sid, h3_frame="connection_close", code=act.code, quic_error_space=act.quic_error_space)
            self.h3_conn.close_connection(act.code, TRANSPORT_FRAME_TYPE if act.transport else None, act.reason)
        else:
            raise AssertionError(f"unknown h3 action {frame!r}")
        yield from self.h3_conn.transmit()
        self.settled(sid)

    def send_goaway(self, stream_id: int) -> None:
        """An HTTP/3 GOAWAY (RFC 9114 5.2) on our control stream: client requests on
        streams at or above ``stream_id`` were not processed (a client may retry them)."""
        mock = self.h3_conn._quic  # mitmproxy's MockQuic: it turns this into a SendQuicStreamData command
        mock.send_stream_data(self.h3_conn._local_control_stream_id,
                              encode_frame(FrameType.GOAWAY, encode_uint_var(stream_id)))

    def refused(self, sid: int) -> bool:
        return (self.goaway_id is not None and sid % 4 == 0 and sid >= self.goaway_id
                and sid not in self.h3_conn._stream)

    def refuse(self, sid: int):
        """A request after our GOAWAY, on a stream it excluded: H3_REQUEST_REJECTED, unread."""
        self.h3_conn.close_stream(sid, H3ErrorCode.H3_REQUEST_REJECTED)
        yield from self.h3_conn.transmit()

    def close_now(self):
        how, self.closing = self.closing, None
        self.drained = True  # closed: nothing left to drain
        self.h3_conn.close_connection(how["code"], TRANSPORT_FRAME_TYPE if how["transport"] else None, how["reason"])
        yield from self.h3_conn.transmit()

    def mark_ended(self, sid: int, **how) -> None:
        """This connection ends here: its other open flows end with it (collateral)."""
        flow = self.flow_of(sid)
        layer_streams = self.http_layer.streams if self.http_layer else {}
        streams = {f.id: i for i, f in self.known.items()}
        streams.update({s.flow.id: i for i, s in layer_streams.items() if getattr(s, "flow", None) is not None})
        ends.mark(self.context.client.id, flow.id if flow is not None else "", streams=streams, **how)


# -- helpers for Act -------------------------------------------------------------------
def server_of(flow) -> FaultH3Server | None:
    return _servers.get(flow.client_conn.id)


def active(flow) -> bool:
    """This flow is HTTP/3 and its connection runs ``FaultH3Server``."""
    return flow.request.http_version == "HTTP/3" and server_of(flow) is not None
