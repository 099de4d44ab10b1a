"""The one module that reaches into mitmproxy's private WebSocket layer.

mitmproxy's addon API can drop and inject WebSocket messages but cannot close a
session with a chosen code, nor send a frame a client must reject. We do both
inside mitmproxy's own layer stack, so every byte still goes through the HTTP/1
and TLS layers below as a ``SendData`` command (ws:// and wss:// alike):

- ``WsFrames.websocket_start`` finds the flow's ``WebsocketLayer`` (a child of
  its ``HttpStream``) and swaps its class for ``FaultWebsocketLayer``; the stock
  ``start`` then continues into our ``relay_messages``;
- a fault kind asks for a *WsAction* (``faults.wire.actions``, through ``Act``), from a
  ``websocket_message`` hook (fired when the hook returns: the message that
  triggered it is not relayed) or from anywhere else (``fire_soon``: an injected
  event wakes the layer);
- a stall (``stall``: the side whose data is held) is checked on every event;
- the layer sends the close frame (through wsproto, so its state machine knows
  we closed) or the raw frame, ends both connections, and ends the session
  (``websocket_end``) the way the stock layer does for a relayed close.

``tests/unit/wire/test_wslayer.py`` fails loudly when a mitmproxy upgrade breaks this.
"""

from __future__ import annotations

import logging
import os
import time

import wsproto.events as wse
from mitmproxy.proxy import commands, events
from mitmproxy.proxy.layers.websocket import (
    WebsocketEndHook,
    WebsocketLayer,
    WebsocketMessageHook,
    WebSocketMessageInjected,
)
from mitmproxy.websocket import WebSocketMessage
from wsproto.frame_protocol import CloseReason, Opcode

from faults.wire import actions, builtin, stack
from faults.wire.actions import WsAction

log = logging.getLogger(__name__)

TESTED_MITMPROXY = "12.3"

# ws_corrupt: frames a client must reject (RFC 6455 5.1, 5.2, 8.1)
CORRUPT = ("bad_opcode", "masked", "invalid_utf8")


def corrupt_frame(kind: str) -> bytes:
    if kind == "bad_opcode":
        return b"\x83\x00"  # FIN + reserved opcode 0x3, empty
    if kind == "masked":
        # a server must never mask: a masked text frame "bad"
        key = os.urandom(4)
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(b"bad"))
        return b"\x81" + bytes([0x80 | len(payload)]) + key + payload
    if kind == "invalid_utf8":
        return b"\x81\x02\xff\xfe"  # a text frame whose payload is not UTF-8
    raise AssertionError(f"unknown corruption {kind!r}")


def close_frame(code: int, reason: str) -> wse.CloseConnection:
    """1005 is 'no status': a close frame with an empty payload."""
    if code == 1005:
        return wse.CloseConnection(CloseReason.NO_STATUS_RCVD)
    return wse.CloseConnection(code, reason or None)


class WsFrames:
    """Addon: put the fault-capable layer under every WebSocket session."""

    name = "wsframes"

    def websocket_start(self, flow):
        layer = layer_of(flow)
        if layer is not None and type(layer) is WebsocketLayer:
            layer.__class__ = FaultWebsocketLayer


class _Fire(WebSocketMessageInjected):
    """Wakes the layer to fire an action set outside a message hook."""


class FaultWebsocketLayer(WebsocketLayer):
    def relay_messages(self, event):
        if isinstance(event, _Fire):
            yield from self.fire_pending()
            return
        if stalled(self.flow, event, self.context.client):
            return  # a stall holds everything from that side, close frames and FIN included
        # The stock relay, step by step: after a message hook, a pending action
        # replaces what the stock code would do next (relay the message).
        gen = WebsocketLayer.relay_messages(self, event)
        reply = None
        while True:
            try:
                cmd = gen.send(reply)
            except StopIteration:
                return
            reply = yield cmd
            if isinstance(cmd, WebsocketMessageHook) and pending(self.flow):
                gen.close()
                yield from self.fire_pending()
                return

    def fire_pending(self):
        act = pending(self.flow)
        if act is None or self._handle_event == self.done:
            return
        act.fired = True
        what = act.ws_action
        if what == "close":
            frame = close_frame(act.code, act.reason)
            yield self.client_ws.send2(frame)
            ws = self.flow.websocket
            ws.close_code, ws.close_reason, ws.closed_by_client = act.code, act.reason, False
        elif what == "corrupt":
            yield commands.SendData(self.context.client, corrupt_frame(act.corrupt))
            # the client fails the session (a close 1002/1007, or a drop); the stock relay
            # handles its answer and ends the session then
            return
        else:
            raise AssertionError(f"unknown ws action {what!r}")
        upstream = close_frame(1001 if act.code in (1005, 1006, 1015) else act.code, "")
        if self.server_ws.state.name in ("OPEN", "REMOTE_CLOSING"):
            yield self.server_ws.send2(upstream)
        for conn in (self.context.server, self.context.client):
            yield commands.CloseConnection(conn)
        self.flow.websocket.timestamp_end = time.time()
        yield WebsocketEndHook(self.flow)
        self.flow.live = False
        self._handle_event = self.done


def stalled(flow, event, client) -> bool:
    act = actions.WS.of(flow)
    side = act.stall if act is not None else ""
    if not side or not isinstance(event, (events.DataReceived, events.ConnectionClosed)):
        return False
    return side == "any" or (side == "client") == (event.connection == client)


def pending(flow) -> WsAction | None:
    act = actions.WS.of(flow)
    return act if act is not None and not act.fired else None


def fire_soon(flow) -> bool:
    """Wake the flow's layer so it fires its pending action (outside a message hook)."""
    try:
        server = builtin.proxyserver()
        msg = WebSocketMessage(Opcode.TEXT, False, b"")
        server.inject_event(_Fire(flow, msg))
    except Exception as e:  # the connection is gone
        log.debug("ws fire: %s", e)
        return False
    return True


def active(flow) -> bool:
    return isinstance(layer_of(flow), FaultWebsocketLayer)


def layer_of(flow):
    """The WebsocketLayer of this flow, found from its connection's layer stack
    (``faults.wire.stack``: through a regular proxy, in the CONNECT tunnel's HTTP layer)."""
    for layer in stack.http_layers(flow.client_conn):
        for stream in layer.streams.values():
            child = getattr(stream, "child_layer", None)
            if getattr(stream, "flow", None) is flow and isinstance(child, WebsocketLayer):
                return child
    return None
