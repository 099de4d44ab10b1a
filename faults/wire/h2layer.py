"""The one module that reaches into mitmproxy's private HTTP/2 layer.

mitmproxy has no public way to send a GOAWAY or a RST_STREAM with a chosen
code, or to break the HTTP/2 protocol on purpose. This module does it the
sans-io way, inside mitmproxy's own layer stack, so every frame still goes
through the TLS layer as a ``SendData`` command (never raw bytes past
mitmproxy's back):

- ``H2Frames.next_layer`` lets the built-in ``nextlayer`` addon decide, then, on
  a connection that may need it at once (``H2Frames.needs_layer_at_start``), swaps
  the ``HttpLayer`` it chose for ``FaultHttpLayer`` (a subclass);
- when a rule selects a flow (``H2Frames.ensure``, from the injector) or the rules
  change, ``adopt`` swaps the layers of that running connection: its ``HttpLayer``
  for ``FaultHttpLayer``, its HTTP/2 server (the private ``Http2Server``) for
  ``FaultH2Server``, each keeping its state. Unselected traffic never pays for them;
- a fault kind asks for an *action* (``faults.wire.actions.H2Action``, through
  ``Act``) and, when the stream must end, calls ``flow.kill()``. ``FaultH2Server`` intercepts that
  stream's ``ResponseProtocolError(KILL)`` and emits the action's frames
  (through ``h2`` where its state machine allows, through ``hyperframe``
  where it does not: GOAWAY with any last_stream_id, frames that break the
  protocol). Actions that must not end the stream fire at the stream's
  response headers or end of message instead.

``tests/unit/wire/test_h2frames.py`` fails loudly when a mitmproxy upgrade breaks
any of this (see shared/mitmproxy-internals.md, "HTTP/2 frames").
"""

from __future__ import annotations

import asyncio
import logging
import weakref

import h2.events
import hyperframe.frame as hf
from mitmproxy import ctx
from mitmproxy.proxy import events
from mitmproxy.proxy.commands import RequestWakeup, SendData
from mitmproxy.proxy.layers.http import (
    ErrorCode,
    HttpLayer,
    HttpStream,
    RequestData,
    RequestHeaders,
    RequestProtocolError,
    ResponseData,
    ResponseEndOfMessage,
    ResponseHeaders,
    ResponseProtocolError,
)
from mitmproxy.proxy.layers.http._base import HttpEvent, ReceiveHttp
from mitmproxy.proxy.layers.http._http2 import Http2Server
from mitmproxy.proxy.mode_specs import ReverseMode

from faults import vocabulary
from faults.catalog.tables import h2_name
from faults.wire import actions, builtin, ends, h3layer, quic, sockets, stack
from faults.wire.actions import H2Action

log = logging.getLogger(__name__)

TESTED_MITMPROXY = "12.3"

MAX_FRAME_LEN = 2**24 - 1
CLOSE_DELAY = 0.1  # s: between our last frames and the close
CLOSE_GRACE = 0.05  # s: after the close, make sure the client socket really closed
MAX_OVERFLOW_BYTES = 256 * 2**20  # window_overflow refuses clients with windows larger than this

_servers: weakref.WeakValueDictionary = weakref.WeakValueDictionary()  # client connection id -> FaultH2Server


# -- the addon -------------------------------------------------------------------
class H2Frames:
    """Addon: install the frame-capable HTTP layer on the connections that may need it.

    Every exchange on a connection pays for the layer's wrappers, so a TCP connection
    gets it at its ``next_layer`` decision only when something may need it before any
    rule is selected (``needs_layer_at_start``); any other connection gets it the
    moment a rule (plan, runtime, ``x-fault``, a Toxiproxy http toxic) is selected for
    one of its flows (``ensure``, from the injector, before the flow's response or
    request body is relayed), and every open connection gets it when the rules
    change (``rules_changed``), so a rule added at runtime applies to connections
    opened before it exactly as to new ones.

    ``on_settled`` is called with a flow when what its client will see is settled: its
    response's last event reached the layer (handed to the client now, or dropped
    because the connection is ending), or its fault's frames went out (or were
    dropped). The classifier waits for it, so a sibling's fault that ends the
    connection between a flow's hook and the write is what the flow is classified by."""

    name = "h2frames"

    def __init__(self, on_settled=None, injector=None, toxiproxy=None):
        self.on_settled = on_settled
        self.injector, self.toxiproxy = injector, toxiproxy  # handed over by FaultAddon
        # copied at ``configure``: the layer's streams read it at every request head, and
        # each ``ctx.options`` read deep-copies the value (None: not configured yet, read it)
        self.keep_host_header: bool | None = None

    def configure(self, updated):
        if "keep_host_header" in updated:
            self.keep_host_header = ctx.options.keep_host_header
        if {"fault_control", "keep_host_header"} & set(updated):
            self.rules_changed()

    def next_layer(self, nextlayer):
        if nextlayer.layer is None:
            stock = builtin.nextlayer()
            if stock is not None:
                stock.next_layer(nextlayer)
        if self.needs_layer_at_start(nextlayer.context):
            install_new(nextlayer, self.on_settled, self)

    def needs_layer_at_start(self, context) -> bool:
        """What must run in the layer before any hook of the connection's flows:
        HTTP/3 (its upstream connections, ``faults.wire.h3layer``), the control
        endpoint (which also reads the name a reverse-mode client sent, and drops a
        refused request's body, ``vocabulary.DISCARD_BODY``), and, in reverse mode
        without ``keep_host_header`` while any rule exists, the name the client sent
        (``remember_client_host``: ``~d`` matches it, and any request on the
        connection may name any host)."""
        if context.client.transport_protocol != "tcp":
            return True
        options = context.options
        if options.fault_control:
            return True
        return (isinstance(context.client.proxy_mode, ReverseMode) and not options.keep_host_header
                and self.rules_exist())

    def rules_exist(self) -> bool:
        inj, tox = self.injector, self.toxiproxy
        if inj is None:
            return True  # no injector handed over (a test's bare addon): as before, always
        if tox is not None and tox.listeners.plans:
            return True
        return any(r.fault.level != "dns" for r in inj.rules)

    def ensure(self, flow) -> None:
        """A rule was selected for ``flow``: its connection gets the layer now."""
        adopt(flow.client_conn, self.on_settled, self)

    def rules_changed(self) -> None:
        """The rules (or the options ``needs_layer_at_start`` reads) changed: the
        open connections that lack the layer and need it from now on get it."""
        n = 0
        for handler in builtin.open_connections():
            context = getattr(getattr(handler, "layer", None), "context", None)
            if context is not None and self.needs_layer_at_start(context) and adopt(context.client, self.on_settled, self):
                n += 1
        if n:
            log.debug(f"fault layer added to {n} open connection(s) after a rule change")


def install(layer, on_settled=None, frames=None) -> bool:
    """Swap a stock ``HttpLayer`` found in ``layer``'s child chain for ours (``frames``:
    the ``H2Frames`` addon, whose option copies its streams read)."""
    seen = 0
    while layer is not None and seen < 16:
        seen += 1
        if type(layer) is HttpLayer:
            _swap(layer, on_settled, frames)
            return True
        if isinstance(layer, FaultHttpLayer):
            return True
        layer = stack.below(layer)
    return False


def install_new(nextlayer, on_settled=None, frames=None) -> bool:
    """``install`` at a connection's ``next_layer`` decision: the stock ``HttpLayer`` just
    built (no stream, no connection yet) is replaced by a new ``FaultHttpLayer`` in the
    stack (its parent's ``child_layer`` or ``nextlayer.layer``, and ``context.layers``), not
    given our class. CPython 3.12 moves the attributes of an object whose ``__class__`` is
    assigned into a dict, and every attribute read and method call on it then misses the
    interpreter's fast paths: on the layer that handles every event of the connection, ~40 K
    instructions per HTTP/1.1 request (bench/callgrind.py). Anything else: ``install``."""
    parent, layer, seen = nextlayer, nextlayer.layer, 0
    while layer is not None and seen < 16:
        seen += 1
        if isinstance(layer, FaultHttpLayer):
            return True
        if type(layer) is HttpLayer:
            if layer.streams or layer.connections or not _replace(parent, layer, on_settled, frames):
                break  # already running, or held where we cannot re-point: swapped in place
            return True
        parent, layer = layer, stack.below(layer)
    return install(nextlayer.layer, on_settled, frames)


def _replace(parent, stock: HttpLayer, on_settled, frames) -> bool:
    """Put a new ``FaultHttpLayer`` where ``stock`` is: ``parent.layer`` (a NextLayer) or
    ``parent.child_layer``, and its place in ``context.layers``. False when it is held otherwise."""
    attr = "layer" if getattr(parent, "layer", None) is stock else \
        "child_layer" if getattr(parent, "child_layer", None) is stock else None
    layers = stock.context.layers
    at = next((i for i, x in enumerate(layers) if x is stock), None)
    if attr is None or at is None:
        return False
    cls = FaultH3HttpLayer if stock.context.client.transport_protocol == "udp" else FaultHttpLayer
    fresh = cls(stock.context, stock.mode)  # appends itself to context.layers
    layers.pop()
    layers[at] = fresh
    fresh.on_settled, fresh.frames = on_settled, frames
    setattr(parent, attr, fresh)
    return True


def adopt(client_conn, on_settled=None, frames=None) -> bool:
    """Give a running connection the frame-capable layers: each stock ``HttpLayer``
    on it becomes a ``FaultHttpLayer`` and its HTTP/2 server a ``FaultH2Server``
    (both keep their state: the swap only adds our overrides, which act from the
    next event on). True when a layer was swapped."""
    swapped = False
    for layer in stack.http_layers(client_conn):
        if type(layer) is HttpLayer:
            _swap(layer, on_settled, frames)
            swapped = True
        if not isinstance(layer, FaultHttpLayer):
            continue
        conn = layer.connections.get(layer.context.client)
        if type(conn) is Http2Server:
            conn.__class__ = FaultH2Server
            conn.fault_state()
            conn.http_layer, conn.on_settled = layer, layer.on_settled
            swapped = True
    return swapped


class FaultHttpLayer(HttpLayer):
    """Its streams are ``FaultHttpStream``s (the client's name kept, a refused body
    dropped). An HTTP/2 client's server becomes a ``FaultH2Server`` when a rule selects
    one of the connection's flows (``adopt``): until then its events pay for nothing of ours.

    No override of ``event_to_child``: it runs for every event at every level of the
    layer's nesting (about 30 times per HTTP/1.1 exchange), and a wrapper there cost
    ~25 us per exchange (bench/README.md, notes); a stream's own states run once each."""

    on_settled = None  # H2Frames.on_settled, handed to this connection's FaultH2Server
    frames = None  # the H2Frames addon that installed it (None: a test's bare layer)

    def make_stream(self, stream_id: int):
        # mitmproxy's make_stream, with our stream class (tests/unit/wire/test_h2frames.py
        # checks mitmproxy's still reads so)
        stream = self.streams[stream_id] = FaultHttpStream(self.context.fork(), stream_id)
        stream.frames = self.frames
        yield from self.event_to_child(stream, events.Start())


def _nothing():
    yield from ()


class FaultHttpStream(HttpStream):
    """A stream of a ``FaultHttpLayer``: keeps the name a reverse-mode client used
    (``remember_client_host``) before mitmproxy rewrites it, and drops the body of a request
    answered at its head (``vocabulary.DISCARD_BODY``: read off the wire, never buffered).
    Each override returns the stock state's generator: no generator of its own per event."""

    frames = None  # its layer's H2Frames addon (``FaultHttpLayer.make_stream``)

    def state_wait_for_request_headers(self, event):
        if isinstance(event, RequestHeaders):
            frames = self.frames
            remember_client_host(self.context, event.request, frames and frames.keep_host_header)
        return super().state_wait_for_request_headers(event)

    def state_consume_request_body(self, event):
        if isinstance(event, RequestData) and self.flow.metadata.get(vocabulary.DISCARD_BODY):
            return _nothing()
        return super().state_consume_request_body(event)

    def state_stream_request_body(self, event):
        if isinstance(event, RequestData) and self.flow.metadata.get(vocabulary.DISCARD_BODY):
            return _nothing()
        return super().state_stream_request_body(event)


class FaultH3HttpLayer(FaultHttpLayer):
    """A QUIC client's: on ``Start`` for a client that negotiated ``h3``, puts a
    ``FaultH3Server`` into ``connections[client]`` before the stock code runs its
    ``setdefault``; and the upstream connections of an HTTP/3 client (``h3layer``; the QUIC
    ones get ``quic.guard_upstreams``)."""

    def _handle_event(self, event):
        if isinstance(event, events.Start) and h3layer.h3_client(self.context):
            server = h3layer.FaultH3Server(self.context.fork())
            server.http_layer = self
            server.on_settled = self.on_settled
            self.connections.setdefault(self.context.client, server)
        yield from super()._handle_event(event)

    # an HTTP/3 client in front of an HTTP/1.1 upstream: one upstream connection per
    # stream in flight, as mitmproxy does for an HTTP/2 client (faults.wire.h3layer)
    def get_connection(self, event, *, reuse: bool = True):
        yield from h3layer.get_connection(self, event, reuse)
        quic.guard_upstreams(self.connections)  # a new upstream QUIC connection: guarded once, as it starts

    def register_connection(self, command):
        rest = h3layer.split_waiting(self, command)
        yield from super().register_connection(command)
        for cmd in rest:
            yield from self.get_connection(cmd, reuse=False)

    def event_to_child(self, child, event):
        yield from super().event_to_child(child, event)
        if isinstance(event, events.CommandCompleted) and isinstance(child, HttpStream):
            # a hook or the upstream connection came back: the stream read what it had queued
            # meanwhile, where an upload cut may have been asked for (h3layer.UploadRead)
            server = self.connections.get(self.context.client)
            if isinstance(server, h3layer.FaultH3Server) and server.cut_due(child.stream_id):
                yield from super().event_to_child(server, h3layer.UploadRead(child.stream_id))


def _swap(layer, on_settled, frames=None) -> None:
    """A stock ``HttpLayer`` becomes ours (``install``, ``adopt``): a QUIC client's has the
    HTTP/3 parts; the streams it has already become ours too (their next states are)."""
    layer.__class__ = FaultH3HttpLayer if layer.context.client.transport_protocol == "udp" else FaultHttpLayer
    layer.on_settled, layer.frames = on_settled, frames
    for stream in layer.streams.values():
        if type(stream) is HttpStream:
            stream.__class__ = FaultHttpStream
            stream.frames = frames


def remember_client_host(context, request, keep_host_header: bool | None = None) -> None:
    """Reverse mode without ``keep_host_header``: mitmproxy rewrites Host (HTTP/1) or
    ``:authority`` (HTTP/2) to the upstream's before any hook; keep what the client
    sent on the request, where ``~d`` rules and the control host look for it
    (``faults.plan.host_key``). ``keep_host_header``: the option as ``H2Frames`` copied
    it (None: read from ``context.options``)."""
    if not isinstance(context.client.proxy_mode, ReverseMode):
        return
    if keep_host_header is None:
        keep_host_header = context.options.keep_host_header
    if not keep_host_header:
        setattr(request, vocabulary.CLIENT_HOST_ATTR, host_header(request))


_H2_H3 = (b"HTTP/2.0", b"HTTP/3")


def host_header(request) -> str | None:
    """``request.host_header``. HTTP/1: the Host fields joined, read off the raw fields, as
    mitmproxy's ``headers.get("Host")`` does in a dozen calls (at every request head)."""
    data = request.data
    if data.http_version in _H2_H3:  # the authority first: mitmproxy's own
        return request.host_header
    hosts = [v for k, v in data.headers.fields if k.lower() == b"host"]
    return ", ".join([v.decode("utf-8", "surrogateescape") for v in hosts]) if hosts else None


class FaultH2Server(Http2Server):
    http_layer: HttpLayer | None = None
    on_settled = None  # see H2Frames

    def __init__(self, context):
        super().__init__(context)
        self.fault_state()

    def fault_state(self) -> None:
        """Our state, at construction or when a running stock server is adopted (``adopt``)."""
        _servers[self.context.client.id] = self
        self.actions: dict[int, H2Action] = {}  # stream id -> action, cached at first sight
        self.dead: set[int] = set()  # streams we ended without telling h2: swallow their events
        self.held: dict[int, list] = {}  # stalled streams: their response events, kept until released
        self.hold_wakeups: dict = {}  # RequestWakeup command -> the stream it releases
        self.goaway_last: int | None = None  # set once we sent a draining GOAWAY
        self.closing = False
        self.close_msg = ""
        # stream id -> flow, remembered on first sight: the HttpLayer may forget a stream
        # (a killed one, a finished one) before its last event reaches this layer
        self.known: dict[int, object] = {}

    # -- lookups -------------------------------------------------------------
    def flow_of(self, stream_id: int):
        flow = self.known.get(stream_id)
        if flow is None:
            stream = (self.http_layer.streams if self.http_layer else {}).get(stream_id)
            flow = getattr(stream, "flow", None)
            if flow is not None:
                self.known[stream_id] = flow
        return flow

    def action_of(self, stream_id: int) -> H2Action | None:
        act = self.actions.get(stream_id)
        if act is None:
            flow = self.flow_of(stream_id)
            act = actions.H2.of(flow) if flow is not None else None
            if act is not None:
                self.actions[stream_id] = act
        return act

    # -- events ----------------------------------------------------------------
    def _handle_event(self, event):
        if isinstance(event, events.Wakeup) and event.command in self.hold_wakeups:
            yield from self.release(self.hold_wakeups.pop(event.command))
            return
        if isinstance(event, events.Wakeup) and self.closing:
            yield from self.close_now()
            return
        if isinstance(event, events.ConnectionClosed) and event.connection == self.conn:
            for sid in list(self.held):
                self.gave_up(sid)
        if isinstance(event, HttpEvent) and event.stream_id in self.held and not self.closing:
            if isinstance(event, ResponseProtocolError):
                self.held.pop(event.stream_id)  # the stream ends: what was held never goes out
            else:
                self.held[event.stream_id].append(event)
                return
        if isinstance(event, HttpEvent):
            sid = event.stream_id
            if isinstance(event, ResponseHeaders):
                self.flow_of(sid)  # remember it while the HttpLayer still has it
            elif isinstance(event, ResponseEndOfMessage):
                self.settled(sid)  # handed to the client now, or dropped below
            if self.closing or sid in self.dead:
                if isinstance(event, (ResponseProtocolError, ResponseHeaders)):
                    self.settled(sid)  # the frames it asked for, or its answer, never go out
                return  # what the stock done() state does once the connection is closed
            act = self.action_of(sid)
            if act is not None and not act.fired:
                if isinstance(event, ResponseProtocolError) and event.code == ErrorCode.KILL:
                    yield from self.fire(sid, act, ending=True)
                    return
                if isinstance(event, ResponseHeaders) and act.phase == "before_response":
                    yield from self.fire(sid, act, ending=False)
                    if not self.closed:
                        yield from super()._handle_event(event)
                    yield from self.maybe_drained()
                    return
                if isinstance(event, ResponseData) and act.hold_now:
                    # a stall on this stream only: the data up to the pause, then hold the rest
                    yield from super()._handle_event(event)
                    act.fired = True
                    self.held[sid] = []
                    if act.hold_ms is not None:
                        wake = RequestWakeup(act.hold_ms / 1000)
                        self.hold_wakeups[wake] = sid
                        yield wake
                    return
                if act.h2_frame == "hold":  # no frames of its own: the stock layer goes on
                    yield from super()._handle_event(event)
                    yield from self.maybe_drained()
                    return
                if isinstance(event, ResponseData) and act.cut_now:
                    # a streamed cut (SSE after_events, after_bytes): the kept data, then the frames
                    yield from super()._handle_event(event)
                    yield from self.fire(sid, act, ending=False)
                    return
                if (isinstance(event, ResponseHeaders) and act.phase == "after_headers") or (
                    isinstance(event, ResponseEndOfMessage) and act.phase == "after_response"
                ):
                    yield from super()._handle_event(event)
                    yield from self.fire(sid, act, ending=False)
                    yield from self.maybe_drained()
                    return
        yield from super()._handle_event(event)
        if self.goaway_last is not None:
            yield from self.maybe_drained()

    def handle_h2_event(self, event):
        if isinstance(event, h2.events.StreamReset):
            self.client_reset(event.stream_id)
        if isinstance(event, (h2.events.StreamReset, h2.events.ConnectionTerminated)):
            for sid in [event.stream_id] if isinstance(event, h2.events.StreamReset) else list(self.held):
                self.gave_up(sid)
        if isinstance(event, h2.events.DataReceived) and event.stream_id in self.streams:
            act = self.action_of(event.stream_id)
            if act is not None and act.phase == "mid_request" and not act.fired:
                # an upload cut: count the request body; at after_bytes, reset the stream
                # while the client is still sending, and end the flow as a client reset would
                sid = event.stream_id
                act.received += len(event.data)
                if act.received < act.after_bytes:
                    return (yield from super().handle_h2_event(event))
                self.h2_conn.acknowledge_received_data(event.flow_controlled_length, sid)
                flow = self.flow_of(sid)
                if flow is not None:
                    flow.metadata.setdefault(vocabulary.WIRE, {})["request_body_received"] = act.received
                yield from self.fire(sid, act, ending=True)
                yield ReceiveHttp(RequestProtocolError(sid, f"fault: RST_STREAM {h2_name(act.code)} "
                                                       "during the upload", code=ErrorCode.CANCEL))
                return False
        if (
            self.goaway_last is not None
            and isinstance(event, h2.events.RequestReceived)
            and event.stream_id > self.goaway_last
        ):
            self.dead.add(event.stream_id)  # after our GOAWAY: ignored, as RFC 9113 6.8 says
            return False
        return (yield from super().handle_h2_event(event))

    def client_reset(self, sid: int) -> None:
        """The client reset this stream (its own timeout, a cancel): when, against the
        connection's end. A Go client reuses the connection for its next request at once, and
        a fault on that one may end the connection before this flow has noticed (a hang
        polls): the client saw its own reset, not that end (faults.wire.collateral)."""
        flow = self.flow_of(sid)
        if flow is not None:
            flow.metadata.setdefault(vocabulary.WIRE, {}).setdefault("client_reset_seq", ends.tick())

    def gave_up(self, sid: int) -> None:
        """The client left a held stream (reset it, or the connection): what it saw is
        the pause; the classifier may go on."""
        if self.held.pop(sid, None) is None:
            return
        flow = self.flow_of(sid)
        if flow is not None:
            flow.metadata.setdefault(vocabulary.WIRE, {}).update(client_gave_up=True, hold_end="client_gone")
        self.settled(sid)

    def release(self, sid: int):
        """A stall's time is up: what the stream held goes out, in order."""
        for ev in self.held.pop(sid, []):
            yield from self._handle_event(ev)

    @property
    def closed(self) -> bool:
        return self._handle_event == self.done  # set by close_connection()

    # -- frames ----------------------------------------------------------------
    def flush(self):
        data = self.h2_conn.data_to_send()
        if data:
            yield SendData(self.conn, data)

    def settled(self, sid: int) -> None:
        flow = self.flow_of(sid)
        self.known.pop(sid, None)
        if flow is not None and self.on_settled is not None:
            self.on_settled(flow)

    def fire(self, sid: int, act: H2Action, ending: bool):
        act.fired = True
        flow = self.flow_of(sid)
        if flow is not None:
            flow.metadata.setdefault(vocabulary.WIRE, {})["ended_seq"] = ends.tick()
            if ending:
                self.settled(sid)
        frame = act.h2_frame
        if ending:
            # Drop the stream first: the kill arrives re-entrantly, and closing the
            # connection with the stream still listed re-enters it.
            self.streams.pop(sid, None)
        if frame == "rst_stream":
            if not self.is_closed(sid):
                self.h2_conn.reset_stream(sid, act.code)
            else:
                self.dead.add(sid)
            yield from self.flush()
            return
        if ending:
            self.dead.add(sid)
        if frame == "goaway":
            yield from self.flush()
            last = act.last_stream
            yield SendData(self.conn, hf.GoAwayFrame(0, last_stream_id=last, error_code=act.code).serialize())
            if act.then == "close":
                self.mark_ended(sid, h2_frame="goaway", code=act.code, last_stream=last)
                yield from self.close_for_real(f"fault: GOAWAY {h2_name(act.code)} then close")
                return
            self.goaway_last = last if self.goaway_last is None else min(last, self.goaway_last)
            yield from self.refuse_above(last)
            return
        if frame == "violation":
            self.mark_ended(sid, h2_frame="violation", violation=act.violation)
            yield from self.violate(sid, act.violation)
            yield from self.close_for_real(f"fault: HTTP/2 violation {act.violation}")
            return
        raise AssertionError(f"unknown h2 action {frame!r}")

    def mark_ended(self, sid: int, **how) -> None:
        """Say that this connection ends here, and which stream each open flow is on:
        the classifier needs a sibling's stream id to tell what its client saw."""
        flow = self.flow_of(sid)
        layer_streams = self.http_layer.streams if self.http_layer else {}
        streams = {f.id: i for i, f in self.known.items()}
        streams.update({s.flow.id: i for i, s in layer_streams.items() if getattr(s, "flow", None) is not None})
        ends.mark(self.context.client.id, flow.id if flow is not None else "", streams=streams, **how)

    def close_for_real(self, msg: str):
        """Close the connection a moment after our last frames, the way a real
        server does, and make sure the socket really closes.

        - The delay (``CLOSE_DELAY``, a ``RequestWakeup``) lets the client read
          our frames first: closing a socket with client bytes still unread makes
          the kernel send an RST, which can overtake them (Go then retried or saw
          a reset instead of the GOAWAY).
        - mitmproxy 12.3 closes a client socket by cancelling its reader task;
          when that task is waiting for the server-event lock (the close came from
          a hook's continuation or a timer), the CancelledError escapes before
          ``writer.close()`` and the socket stays open: the client would wait for
          its timeout. So we close the writer ourselves shortly after, if still open.
          (``CloseConnection(half_close=True)`` was tried: the clients then saw no
          EOF and waited for their timeouts.)"""
        if self.closing:
            return
        self.closing = True  # from now on, stream events are ignored (stock done() state)
        self.close_msg = msg
        yield from self.flush()
        yield RequestWakeup(CLOSE_DELAY)

    def close_now(self):
        writer = sockets.client_writer(self.context.client)
        yield from self.close_connection(self.close_msg)
        if writer is not None:
            try:
                asyncio.get_running_loop().call_later(CLOSE_GRACE, _close_writer, writer)
            except RuntimeError:  # no loop (unit tests)
                pass

    def refuse_above(self, last: int):
        """Streams above a draining GOAWAY's last_stream_id were not processed:
        end their flows (the client retries them elsewhere) and never answer them."""
        for sid in [s for s in self.streams if s > last and not self.is_closed(s)]:
            flow = self.flow_of(sid)
            if flow is not None and actions.H2.of(flow) is None:  # a selected flow keeps its own record
                flow.metadata.setdefault(vocabulary.WIRE, {}).update(
                    h2_frame="goaway", goaway_refused=True, last_stream=last, stream_id=sid,
                    code=self.actions_code(), phase="refused",
                )
            self.streams.pop(sid, None)
            self.dead.add(sid)
            if flow is not None:
                flow.metadata.setdefault(vocabulary.WIRE, {})["ended_seq"] = ends.tick()
            yield ReceiveHttp(RequestProtocolError(sid, "refused by a GOAWAY (stream above last_stream_id)",
                                                   code=ErrorCode.CANCEL))

    def actions_code(self) -> int:
        for act in self.actions.values():
            if act.h2_frame == "goaway" and act.fired:
                return act.code
        return 0

    def maybe_drained(self):
        if self.goaway_last is None or self.closed or self.closing:
            return
        for sid in list(self.h2_conn.streams):
            if sid % 2 == 1 and sid <= self.goaway_last and sid not in self.dead and not self.is_closed(sid):
                return
        yield from self.flush()
        yield from self.close_for_real("fault: GOAWAY drained")

    def violate(self, sid: int, kind: str):
        max_frame = min(self.h2_conn.max_outbound_frame_size, MAX_FRAME_LEN)
        if kind == "data_on_idle_stream":
            idle = max(sid, self.h2_conn.highest_inbound_stream_id) + 100
            yield from self.flush()
            yield SendData(self.conn, hf.DataFrame(idle, data=b"x" * 16).serialize())
            return
        if kind == "bad_hpack":
            yield from self.flush()
            # An indexed header field with index 0 is a decoding error (RFC 7541 6.1).
            f = hf.HeadersFrame(sid, data=b"\x80", flags=["END_HEADERS"])
            yield SendData(self.conn, f.serialize())
            return
        # oversized_frame and window_overflow need an open response first.
        if not self.is_closed(sid) and not self.h2_conn.streams[sid].state_machine.headers_sent:
            self.h2_conn.send_headers(sid, [(b":status", b"200"), (b"content-type", b"application/octet-stream")])
        yield from self.flush()
        if kind == "oversized_frame":
            size = min(self.h2_conn.max_outbound_frame_size + 1, MAX_FRAME_LEN)
            yield SendData(self.conn, hf.DataFrame(sid, data=b"x" * size).serialize())
        elif kind == "window_overflow":
            window = self.h2_conn.local_flow_control_window(sid) if not self.is_closed(sid) else 65535
            total = min(window + 1, MAX_OVERFLOW_BYTES)
            chunk = b"x" * max_frame
            out = bytearray()
            left = total
            while left > 0:
                n = min(left, max_frame)
                out += hf.DataFrame(sid, data=chunk[:n]).serialize()
                left -= n
            yield SendData(self.conn, bytes(out))
        else:
            raise AssertionError(f"unknown violation {kind!r}")


def _close_writer(writer) -> None:
    if not writer.is_closing():
        log.debug("closing a client socket mitmproxy left open")
        writer.close()


# -- helpers for fault kinds ---------------------------------------------------------
def server_of(flow) -> FaultH2Server | None:
    """The frame-capable HTTP/2 server of this flow's connection, if it has one: the
    classifier asks for every HTTP/2 flow, so it is looked up by client connection, not
    found by walking the layers (there is one per client: mitmproxy has no CONNECT
    over HTTP/2, so only a tunnel's inner HTTP layer, or a direct one, speaks h2), while
    the connection is open (the server lives on until the collector frees its cycles)."""
    if builtin.connection_of(flow.client_conn) is None:
        return None
    return _servers.get(flow.client_conn.id)


def active(flow) -> bool:
    """This flow is HTTP/2 and its connection runs our frame-capable layer."""
    return flow.request.http_version.startswith("HTTP/2") and server_of(flow) is not None


def stream_id(flow) -> int | None:
    for layer in stack.http_layers(flow.client_conn):
        for sid, stream in layer.streams.items():
            if getattr(stream, "flow", None) is flow:
                return sid
    return None
