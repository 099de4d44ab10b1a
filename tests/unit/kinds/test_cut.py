"""Streamed cuts (SSE events, gRPC messages), the stall pauser, WebSocket session
classification and its record, and ``~websocket`` selecting an upgrade request."""

import asyncio
import random

import pytest
from mitmproxy.test import tflow

from faults import kinds, plan as planmod
from faults.classify import classify_websocket
from faults.errors import SpecError
from faults.kinds._cut import Cutter, EventCutter, grpc_end
from faults.kinds.stall import _Pauser
from faults.report import websocket_record
from faults.spec import parse
from faults.wire import actions
from faults.wire.act import Act
from faults.wire.actions import WsAction

EVENTS = b"".join(b"id: %d\ndata: e%d\n\n" % (i, i) for i in range(1, 6))


def _join(parts):
    return b"".join(p if isinstance(p, bytes) else b"".join(p) for p in parts)


def test_event_cutter_passes_whole_events_across_chunk_splits():
    cuts = []
    c = EventCutter(2, on_cut=cuts.append)
    out = _join(c(EVENTS[i:i + 7]) for i in range(0, len(EVENTS), 7))
    assert out == b"id: 1\ndata: e1\n\nid: 2\ndata: e2\n\n" and cuts == [c] and c.passed == 2
    assert c(b"more") == []  # after the cut: nothing, and never b"" (a chunked last-chunk marker)


def test_event_cutter_on_crlf_and_zero_events():
    c = EventCutter(1)
    assert c(b"data: a\r\n\r\ndata: b\r\n\r\n") == b"data: a\r\n\r\n"
    z = EventCutter(0, on_cut=lambda c: None)
    assert z(b"data: a\n\n") == [] and z.fired


def test_grpc_messages_are_whole():
    msg = lambda b: b"\x00" + len(b).to_bytes(4, "big") + b  # noqa: E731
    c = EventCutter(2, end=grpc_end)
    body = msg(b"a") + msg(b"bb") + msg(b"ccc")
    assert c(body[:4]) == [] and c(body[4:]) == msg(b"a") + msg(b"bb")


def test_cutter_never_returns_an_empty_bytes_chunk():
    c = Cutter(3)
    assert c(b"abcdef") == b"abc" and c(b"gh") == []
    c.wake = True
    assert c(b"x") == [b""] and c(b"y") == []  # one empty chunk wakes the HTTP/2 layer, once


def test_pauser_keeps_the_rest_for_after_the_pause():
    paused = []
    p = _Pauser(2, None, paused.append)
    first = p(EVENTS)
    assert first == b"id: 1\ndata: e1\n\nid: 2\ndata: e2\n\n" and paused == [p]
    assert p(b"") == EVENTS[len(first):]  # released with the next call (or the end of the body)


def test_the_pause_starts_before_a_chunk_that_came_in_the_same_turn():
    """HTTP/1.1: the pause (holding the client's writes) is scheduled for once the events
    before it are written; a next chunk handed on in the same turn of the loop (chunks that
    arrived together) starts it first, so no event slips past ``after_events``."""
    from faults.kinds import stall

    class FakeAct:
        def record(self, **kw):
            pass

    order = []

    async def scenario():
        fault, _ = parse("stall after_events=2")
        p = stall.pauser(stall.Stall(fault), FakeAct(), lambda cutter: order.append("pause"))
        order.append(("out", p(EVENTS).count(b"data:")))
        order.append(("out", p(b"id: 9\ndata: late\n\n").count(b"data:")))  # same turn: no await between
        await asyncio.sleep(0)
        return order

    assert asyncio.run(scenario()) == [("out", 2), "pause", ("out", 4)]  # the rest (3 kept + 1), after the pause began


@pytest.mark.parametrize("bad", ["reset after_events=2 when=after_headers", "stall", "stall after_events=1 after_bytes=3",
                                 "close scope=stream after_events=1", "rst_stream after_messages=1 when=before_response"])
def test_streamed_specs_refused_at_load(bad):
    with pytest.raises(SpecError):
        parse(bad)


def test_after_events_and_after_bytes_imply_mid_body():
    assert parse("reset after_events=2")[0].params["when"] == "mid_body"
    assert parse("close after_bytes=10")[0].params["when"] == "mid_body"
    assert parse("reset when=before_response after_bytes=10")[0].params["when"] == "before_response"


def _session(fault: str | None, wire: dict, **ws):
    f = tflow.twebsocketflow(messages=False)
    for k, v in ws.items():
        setattr(f.websocket, k, v)
    if fault:
        f.metadata["fault"] = {"rule": "r", "spec": fault, "kind": fault.split()[0]}
    f.metadata["fault_wire"] = wire
    return f


@pytest.mark.parametrize("wire,ws,event,k6_close,k6_error,py", [
    ({"ws_fault": "close", "ws_close_code": 4000, "ws_close_reason": "bye"}, {}, "ws.close", 4000,
     "websocket: close 4000: bye", "ConnectionClosedError"),
    ({"ws_fault": "close", "ws_close_code": 1001, "ws_close_reason": ""}, {}, "ws.close", 1001, "",
     "ConnectionClosedOK"),
    ({"ws_fault": "drop", "conn_end": "fin"}, {}, "ws.fin", 1006,
     "websocket: close 1006 (abnormal closure): unexpected EOF", "ConnectionClosedError"),
    ({"ws_fault": "drop", "conn_end": "rst"}, {}, "ws.rst", 1001, "write: broken pipe", "ConnectionClosedError"),
    ({"ws_fault": "corrupt", "ws_corrupt": "masked"}, {}, "ws.corrupt", 1001, "websocket: close sent",
     "ConnectionClosedError"),
    ({"ws_fault": "stall"}, {"closed_by_client": True, "close_code": 1001}, "ws.stall", 1001, "", "TimeoutError"),
    # the upstream dropped its connection: mitmproxy relays 1006 as a clean 1000
    ({}, {"closed_by_client": False, "close_code": 1006}, "ws.close", 1000, "", "ConnectionClosedOK"),
    ({}, {"closed_by_client": True, "close_code": 1001}, "ws.client_closed", 1001, "", None),
])
def test_websocket_sessions_classify_and_record(wire, ws, event, k6_close, k6_error, py):
    flow = _session("ws_x", wire, **ws)
    c = classify_websocket(flow)
    rec = websocket_record(flow, c, flow.metadata["fault"])
    assert (rec["record"], rec["ended"], rec["ws_close_code"], rec["ws_error"]) == ("websocket", event, k6_close,
                                                                                    k6_error)
    assert rec["status"] == 101 and rec["url"] == flow.request.pretty_url
    assert (rec["clients"].get("websockets") or {}).get("error") == py


def test_websocket_filter_selects_the_upgrade_request():
    from faults.addons.injector import FaultInjector

    inj = FaultInjector()
    inj.option_plan = planmod.Plan([planmod.rule_from_option("|~websocket|ws_close code=4000", 0, None)])
    f = tflow.tflow()
    f.request.headers["upgrade"] = "websocket"
    rule = inj._select(f)
    assert rule is not None and rule.spec.kind == "ws_close" and f.websocket is None  # restored
    plain = tflow.tflow()
    assert inj._select(plain) is None


def test_ws_kinds_count_direction_and_match(monkeypatch):
    from faults.wire import wslayer

    monkeypatch.setattr(wslayer, "active", lambda flow: True)
    spec = parse("ws_close code=4000 after_messages=1 direction=client match=^ping")[0]
    fault = kinds.instantiate(spec)
    flow = tflow.twebsocketflow(messages=False)
    act = Act(flow, asyncio.Event(), random.Random(1))
    from mitmproxy.websocket import WebSocketMessage
    from wsproto.frame_protocol import Opcode

    def send(text, from_client):
        flow.websocket.messages.append(WebSocketMessage(Opcode.TEXT, from_client, text.encode()))
        asyncio.run(fault.websocket_message(flow, act))
        return flow.websocket.messages[-1]

    assert not send("ping 1", False).dropped  # server side: not counted
    assert not send("hello", True).dropped  # no match
    assert not send("ping 2", True).dropped  # counted: the first passes
    m = send("ping 3", True)
    assert m.dropped and flow.metadata["fault_wire"]["ws_close_code"] == 4000
    assert actions.WS.of(flow) == WsAction("close", code=4000, reason="")


def test_ws_close_without_the_layer_ends_with_a_fin_and_says_so(caplog):
    fault = kinds.instantiate(parse("ws_close code=4000")[0])
    flow = tflow.twebsocketflow(messages=False)
    act = Act(flow, asyncio.Event(), random.Random(1))
    from mitmproxy.websocket import WebSocketMessage
    from wsproto.frame_protocol import Opcode

    flow.websocket.messages.append(WebSocketMessage(Opcode.TEXT, False, b"m1"))
    asyncio.run(fault.websocket_message(flow, act))
    assert flow.metadata["fault_wire"]["ws_fault"] == "drop" and flow.metadata["fault_wire"]["conn_end"] == "fin"
    assert "FIN instead" in caplog.text
