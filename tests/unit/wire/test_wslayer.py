"""Guards for faults/wire/wslayer.py: the private parts of mitmproxy's WebSocket
layer it relies on. A mitmproxy upgrade that moves them fails here, loudly."""

import inspect

import mitmproxy.version
import wsproto
from mitmproxy.proxy.layers import websocket as mws
from mitmproxy.proxy.layers.http import HttpStream
from wsproto.events import CloseConnection, Message

from faults import kinds
from faults.errors import SpecError
from faults.spec import parse
from faults.wire import wslayer


def test_mitmproxy_version_is_the_tested_one():
    v = mitmproxy.version.VERSION
    assert v.startswith(wslayer.TESTED_MITMPROXY + "."), f"this is {v}: re-check the WebSocket layer swap"


def test_the_stock_layer_still_has_what_we_use():
    layer = mws.WebsocketLayer
    for name in ("relay_messages", "done", "start"):
        assert callable(getattr(layer, name)), name
    src = inspect.getsource(layer.relay_messages)
    # the message hook, then the relay we replace; client_ws/server_ws and send2
    assert "yield WebsocketMessageHook(self.flow)" in src
    assert "self.client_ws" in inspect.getsource(layer.start) and "self.server_ws" in inspect.getsource(layer.start)
    assert hasattr(mws.WebsocketConnection, "send2")
    assert issubclass(wslayer._Fire, mws.WebSocketMessageInjected)
    # the HttpStream holds the layer as child_layer (how layer_of finds it)
    assert "self.child_layer = websocket.WebsocketLayer" in inspect.getsource(HttpStream.flow_done)
    assert issubclass(wslayer.FaultWebsocketLayer, mws.WebsocketLayer)


def _client_reads(data: bytes):
    c = wsproto.Connection(wsproto.ConnectionType.CLIENT)
    c.receive_data(data)
    return list(c.events())


def test_corrupt_frames_are_rejected_by_a_client():
    expect = {"bad_opcode": 1002, "masked": 1002, "invalid_utf8": 1007}
    for kind, code in expect.items():
        evs = _client_reads(wslayer.corrupt_frame(kind))
        assert any(isinstance(e, CloseConnection) and e.code == code for e in evs), (kind, evs)
        assert not any(isinstance(e, Message) for e in evs)


def test_close_frames_carry_the_code():
    for code, reason in ((4000, "bye"), (1011, ""), (1005, "")):
        s = wsproto.Connection(wsproto.ConnectionType.SERVER)
        evs = _client_reads(s.send(wslayer.close_frame(code, reason)))
        assert isinstance(evs[0], CloseConnection) and evs[0].code == code and (evs[0].reason or "") == reason


def test_ws_kinds_validate_at_load():
    assert {"ws_close", "ws_drop", "ws_stall", "ws_delay", "ws_corrupt"} <= set(kinds.all_kinds())
    for bad in ("ws_close code=1006", "ws_close code=999", "ws_close code=1005 reason=x", "ws_delay",
                "ws_corrupt frame=nope", "ws_stall match=(", "ws_drop how=fin direction=up"):
        try:
            parse(bad)
        except SpecError:
            continue
        raise AssertionError(f"accepted: {bad}")
    parse("ws_close code=4000 reason='bye now' after_messages=3 direction=any match='^tick'")
