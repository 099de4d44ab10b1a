"""HTTP/3 clients in front of any upstream: the layer stack of a QUIC client connection.

mitmproxy 12.3, in ``--mode reverse:https://HOST:PORT``, listens on UDP too and
answers HTTP/3; but its stack for a QUIC client (``ServerQuicLayer`` /
``ClientQuicLayer`` / ``HttpLayer``) dials the upstream over QUIC as well, and
most upstreams speak HTTPS over TCP only: every HTTP/3 request then got a 502.

``QuicFront.next_layer`` decides first for such connections (the built-in
``nextlayer`` addon leaves a decided layer alone) and builds the same stack
with a TCP server side, from the public layer classes:

- ``https``: ``ServerTLSLayer`` (over TCP) / ``ClientQuicLayer`` / ``HttpLayer``: the
  TCP reverse-https stack with QUIC towards the client. ``ClientQuicLayer`` only
  opens the server first (``connection_strategy=eager``) when its parent is a
  ``ServerQuicLayer``; ``server_tls_available`` (a public attribute) tells it the
  TLS layer above does that job;
- ``http``: ``ClientQuicLayer`` / ``HttpLayer``: plain HTTP/1.1 to the upstream;
- ``quic``: mitmproxy's own stack (HTTP/3 to the upstream), built the same way.

``FaultClientQuicLayer`` disarms an aioquic assertion that a client's STOP_SENDING after
a RESET_STREAM triggered (it crashed the connection handler), and drops the repeated
stream ends aioquic reports for a retransmitted FIN (mitmproxy then closed the whole
connection: ``drop_repeated_fin``); upstream QUIC connections get both too
(``FaultServerQuicLayer``; ``guard_upstreams`` makes the ones mitmproxy's HttpLayer opens
ours). It also notes which side began the connection's close (``record_close_origin``, read
by ``faults.wire.h3layer``), and ``close_for_shutdown`` tells a QUIC client at proxy shutdown.

``server_connect`` offers the TCP upstream ``h2`` and ``http/1.1`` in ALPN
(mitmproxy would copy the client's ``h3``). One private reliance: an HTTP/3 client
and an HTTP/1.1 upstream: mitmproxy opens one HTTP/1.1 connection per stream only
when the client speaks ``h2`` (``HttpLayer.register_connection``/``get_connection``,
"tricky multiplexing edge case"); ``faults.wire.h3layer`` extends that to ``h3``.
``tests/unit/wire/test_quic.py`` fails loudly when mitmproxy changes any of this.
"""

from __future__ import annotations

import logging
import weakref

from aioquic.h3.connection import ErrorCode as H3ErrorCode
from aioquic.quic import events as quic_events
from aioquic.quic.connection import QuicConnection, QuicConnectionState
from mitmproxy import ctx, exceptions
from mitmproxy.proxy import layers, tunnel
from mitmproxy.proxy.layers.http import HTTPMode
from mitmproxy.proxy.mode_specs import ProxyMode, ReverseMode

from faults.wire.datagrams import DatagramGate

log = logging.getLogger(__name__)

UPSTREAMS = ("auto", "https", "http", "quic")
ALT_SVC_MAX_AGE = 3600  # s: how long a client may remember our Alt-Svc


def upstream_for(mode: ReverseMode, choice: str) -> str:
    """How HTTP/3 clients of this reverse mode reach its upstream: https, http or quic."""
    if choice != "auto":
        return choice
    return "quic" if mode.scheme == "http3" else "https"


def listens_on_udp(specs) -> bool:
    """Some mode in ``--mode`` accepts QUIC (a reverse https/http3 proxy, or a mode that
    captures any UDP: transparent, local, WireGuard)."""
    for spec in specs:
        try:
            mode = ProxyMode.parse(spec)
        except ValueError:
            continue
        if mode.transport_protocol in ("udp", "both") and not (isinstance(mode, ReverseMode) and mode.scheme in
                                                                ("dns", "udp", "dtls", "quic")):
            return True
    return False


STOP_SENDING = 0x05  # QUIC frame type


class FaultClientQuicLayer(layers.ClientQuicLayer):
    """mitmproxy's ClientQuicLayer, with one aioquic trap disarmed on its connection.

    aioquic 1.2 answers a peer's STOP_SENDING by resetting the stream's send side, with an
    assertion that it was not reset before. A client sends STOP_SENDING when it gives up on
    a response, also after our RESET_STREAM (a fault, or mitmproxy's own kill): the assertion
    then crashed the whole connection handler ("cannot call reset() more than once"). On the
    connections of this layer, a STOP_SENDING for a stream we already reset is skipped (there
    is nothing left to stop). Private: aioquic's frame handler table; guarded by a test."""

    def start_tls(self, original_destination_connection_id):
        yield from super().start_tls(original_destination_connection_id)
        if self.quic is not None:
            guard_connection(self.quic)
            record_close_origin(self.quic)
            close = handshake_closes.pop(self.context.client.id, None)
            if close is not None:
                close_after_client_hello(self.quic, *close)


class FaultServerQuicLayer(layers.ServerQuicLayer):
    """mitmproxy's ServerQuicLayer with the same traps disarmed (``guard_connection``), once, as
    its QUIC connection starts: the upstream QUIC connections of ``fault_h3_upstream=quic``. The
    first is built so (``build_stack``); the further ones mitmproxy's HttpLayer builds
    (``get_connection``) become so at once (``guard_upstreams``)."""

    def start_tls(self, original_destination_connection_id):
        yield from super().start_tls(original_destination_connection_id)
        guard_connection(self.quic)


def guard_upstreams(connections) -> None:
    """The upstream connections of an HTTP/3 client's ``HttpLayer`` (``connections``): a stock
    ``ServerQuicLayer`` there (``HttpLayer.get_connection`` opens one per stream with
    ``fault_h3_upstream=quic``) becomes a ``FaultServerQuicLayer``, called by ``FaultH3HttpLayer``
    right after ``get_connection``: the QUIC connection starts later, when the connection has
    opened (``start_tls``), and is guarded then, once, before aioquic reads a datagram. One that
    started already is guarded now. Private: the layer's class swap; guarded by a test."""
    for layer in connections.values():
        if type(layer) is layers.ServerQuicLayer:
            layer.__class__ = FaultServerQuicLayer
            guard_connection(layer.quic)


_guarded: weakref.WeakSet = weakref.WeakSet()  # aioquic connections already guarded


def guard_connection(quic) -> None:
    """Disarm both aioquic traps on one connection (client or upstream side), once: a STOP_SENDING
    after our RESET_STREAM (``guard_stop_sending``), a retransmitted FIN (``drop_repeated_fin``)."""
    if not isinstance(quic, QuicConnection) or quic in _guarded:
        return
    _guarded.add(quic)
    guard_stop_sending(quic)
    drop_repeated_fin(quic)


# client connection id -> (error code, frame type, reason): a ``tls handshake=alert|close`` fault
# chosen at the ClientHello (faults.addons.tls), applied when the layer builds the QUIC connection
handshake_closes: dict[str, tuple[int, int, str]] = {}
CRYPTO_FRAME = 0x06  # a TLS alert comes out of the CRYPTO frames: the CONNECTION_CLOSE names that frame type
PADDING_FRAME = 0x00  # a transport close with no frame to blame


def close_after_client_hello(quic, code: int, frame_type: int, reason: str) -> None:
    """The client's first datagrams are read (aioquic derives the keys and its TLS answers the
    ClientHello into its send buffers), then the connection closes before anything is sent:
    aioquic's next flight is then a CONNECTION_CLOSE (0x1c) alone, in Initial packets.
    Private: wraps the connection's ``receive_datagram``; guarded by a test."""
    receive = quic.receive_datagram

    def receive_then_close(data, addr, now):
        receive(data, addr, now)
        quic.close(error_code=code, frame_type=frame_type, reason_phrase=reason)

    quic.receive_datagram = receive_then_close


def guard_stop_sending(quic) -> None:
    handlers = quic._QuicConnection__frame_handlers
    handle, epochs = handlers[STOP_SENDING]

    def guarded(context, frame_type, buf):
        start = buf.tell()
        stream_id = buf.pull_uint_var()
        buf.pull_uint_var()  # the error code
        stream = quic._streams.get(stream_id)
        if stream is not None and stream.sender._reset_error_code is not None:
            return  # already reset: the peer's STOP_SENDING has nothing left to stop
        buf.seek(start)
        handle(context, frame_type, buf)

    handlers[STOP_SENDING] = (guarded, epochs)


def drop_repeated_fin(quic) -> None:
    """aioquic 1.2 reports a stream's end again (``StreamDataReceived(b"", end_stream=True)``)
    for every retransmitted STREAM frame with a FIN, until the stream is discarded; mitmproxy's
    HTTP/3 layer takes that for data after the end and closes the whole connection
    (PROTOCOL_VIOLATION "stream already ended"). A client retransmits its request's FIN when
    our ACK comes late (a loaded machine: curl's PTO on 127.0.0.1 is tens of ms), so a slow
    answer (throttle, a slow upstream) lost every stream of the connection: curl 55/56
    ERR_DRAINING. Only the first end of each stream goes up; a repeat brings no data."""
    ended: set[int] = set()
    next_event = quic.next_event

    def first_end_only():
        while True:
            event = next_event()
            if isinstance(event, quic_events.StreamDataReceived) and event.end_stream:
                if event.stream_id in ended and not event.data:
                    continue
                ended.add(event.stream_id)
            return event

    quic.next_event = first_end_only


# QuicConnection -> who began its close: "client" (its CONNECTION_CLOSE arrived) or "proxy" (this
# side's stack sent one: mitmproxy's HTTP/3 layer, aioquic itself, a fault, the shutdown)
_close_origin: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
CONNECTION_CLOSE_FRAMES = (0x1C, 0x1D)  # transport, application
SHUTDOWN_REASON = "proxy shutting down"


def record_close_origin(quic) -> None:
    """Remember which side began this connection's close. aioquic keeps only the first close
    (``_close_event``) whoever sent it, and once the connection is terminated its state no longer
    tells (DRAINING: received; CLOSING: sent). A received close is set by the CONNECTION_CLOSE
    frame handlers, a sent one by ``close()`` (called by mitmproxy and by aioquic itself on a
    protocol error); an idle timeout is neither. Private: the frame handler table; guarded."""
    close = quic.close

    def closed_here(*args, **kwargs):
        first = quic._close_event is None
        close(*args, **kwargs)
        if first and quic._close_event is not None:
            _close_origin.setdefault(quic, "proxy")

    quic.close = closed_here
    handlers = quic._QuicConnection__frame_handlers
    for frame in CONNECTION_CLOSE_FRAMES:
        handle, epochs = handlers[frame]

        def received(context, frame_type, buf, handle=handle):
            first = quic._close_event is None
            handle(context, frame_type, buf)
            if first and quic._close_event is not None:
                _close_origin.setdefault(quic, "client")

        handlers[frame] = (received, epochs)


def close_seen(quic) -> dict | None:
    """The close this connection began with and who sent it (``record_close_origin``):
    ``{"by": "client"|"proxy", "code", "frame_type", "reason"}``; None while open, or when it
    ended by a timeout. A connection not watched (a stack of mitmproxy's own) is read from
    its state, as long as it is closing (DRAINING: received; CLOSING: sent)."""
    if quic is None or quic._close_event is None:
        return None
    by = _close_origin.get(quic) or {QuicConnectionState.DRAINING: "client",
                                     QuicConnectionState.CLOSING: "proxy"}.get(quic._state)
    if by is None:
        return None
    ev = quic._close_event
    return {"by": by, "code": ev.error_code, "frame_type": ev.frame_type, "reason": ev.reason_phrase}


def client_quic(context):
    """The aioquic connection of this context's client (its ``ClientQuicLayer``), or None."""
    for layer in context.layers:
        if getattr(layer, "conn", None) is context.client and getattr(layer, "quic", None) is not None:
            return layer.quic
    return None


def close_for_shutdown(context, write, now: float) -> bool:
    """At proxy shutdown: CONNECTION_CLOSE H3_NO_ERROR to this QUIC client, written now with
    ``write`` (the client's datagram writer), so that it sees the close at once instead of
    waiting for its idle timeout. Below mitmproxy's layers: its loop stops next."""
    quic = client_quic(context)
    if quic is None or quic._close_event is not None:
        return False
    quic.close(error_code=H3ErrorCode.H3_NO_ERROR, reason_phrase=SHUTDOWN_REASON)
    for data, _addr in quic.datagrams_to_send(now=now):
        write(data)
    return True


def build_stack(context, upstream: str):
    """The layers under a reverse proxy for a QUIC client: a datagram gate, then mitmproxy's
    stack with a TCP server side (``https``, ``http``) or its own (``quic``)."""
    gate = DatagramGate(context)  # first, so that it is the top of context.layers too
    stack = tunnel.LayerStack()
    if upstream == "quic":  # mitmproxy's own stack (ServerQuicLayer first: ClientQuicLayer looks for it)
        stack /= FaultServerQuicLayer(context)
        stack /= FaultClientQuicLayer(context)
        stack /= layers.HttpLayer(context, HTTPMode.transparent)
        gate.child_layer = stack[0]
        return gate
    context.server.transport_protocol = "tcp"
    if upstream == "https":
        stack /= layers.ServerTLSLayer(context)  # sets server.tls: the requests' scheme is https
    client = FaultClientQuicLayer(context)
    client.server_tls_available = upstream == "https"  # eager: open the TCP+TLS upstream first
    stack /= client
    stack /= layers.HttpLayer(context, HTTPMode.transparent)
    gate.child_layer = stack[0]  # quic_datagrams faults act on the datagrams here
    return gate


class QuicFront:
    """Addon: HTTP/3 clients served over a TCP upstream; Alt-Svc in and out."""

    name = "quicfront"

    def load(self, loader):
        loader.add_option(
            "fault_h3_upstream", str, "auto",
            "How HTTP/3 clients of a reverse proxy reach its upstream: https (TCP with TLS: the "
            "upstream may speak HTTP/2 or HTTP/1.1), http (TCP, plain HTTP/1.1), quic (HTTP/3, "
            "mitmproxy's own), auto (https for reverse:https://, quic for reverse:http3://).",
            choices=UPSTREAMS,
        )
        loader.add_option(
            "fault_alt_svc", bool, False,
            "Advertise HTTP/3 to TCP clients: add Alt-Svc: h3=\":PORT\" (this proxy's port) to their "
            "responses. Needs a mode that listens on UDP (reverse:https:// does).",
        )
        loader.add_option(
            "fault_strip_alt_svc", bool, False,
            "Remove the upstream's Alt-Svc header from responses, so that clients stay on TCP.",
        )

    def configure(self, updated):
        if {"fault_alt_svc", "fault_strip_alt_svc", "mode"} & set(updated):
            if ctx.options.fault_alt_svc and ctx.options.fault_strip_alt_svc:
                raise exceptions.OptionsError("fault_alt_svc and fault_strip_alt_svc: choose one "
                                              "(advertise HTTP/3, or keep clients on TCP)")
            if ctx.options.fault_alt_svc and not listens_on_udp(ctx.options.mode):
                raise exceptions.OptionsError(
                    "fault_alt_svc: no --mode listens on UDP, so no HTTP/3 could be served "
                    "(use --mode reverse:https://HOST:PORT)")
            self._alt_svc = (ctx.options.fault_alt_svc, ctx.options.fault_strip_alt_svc)  # read per response

    def next_layer(self, nextlayer):
        if nextlayer.layer is not None:
            return
        context = nextlayer.context
        mode = context.client.proxy_mode
        if (context.client.transport_protocol != "udp" or not isinstance(mode, ReverseMode)
                or mode.scheme not in ("https", "http3") or len(context.layers) != 1
                or not ctx.options.http3):
            return
        nextlayer.layer = build_stack(context, upstream_for(mode, ctx.options.fault_h3_upstream))

    def server_connect(self, data):
        """A TCP upstream for an HTTP/3 client: offer h2 and http/1.1, not the client's h3."""
        server, client = data.server, data.client
        if (client.transport_protocol == "udp" and server.transport_protocol == "tcp"
                and not server.alpn_offers):
            server.alpn_offers = (b"h2", b"http/1.1") if ctx.options.http2 else (b"http/1.1",)

    _alt_svc = (False, False)  # (fault_alt_svc, fault_strip_alt_svc), set at configure

    def idle_hooks(self) -> set[str]:
        """Neither Alt-Svc option on: no response head to change (``FaultAddon.dispatch_table``)."""
        return set() if any(self._alt_svc) else {"responseheaders"}

    def responseheaders(self, flow):
        alt_svc, strip = self._alt_svc
        if not (alt_svc or strip) or flow.response is None:
            return
        if strip:
            flow.response.headers.pop("alt-svc", None)
            return
        if flow.client_conn.transport_protocol == "tcp" and flow.client_conn.sockname:
            port = flow.client_conn.sockname[1]
            flow.response.headers["alt-svc"] = f'h3=":{port}"; ma={ALT_SVC_MAX_AGE}'
