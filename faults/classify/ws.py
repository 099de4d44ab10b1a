"""A WebSocket session -> its client-neutral ``Outcome``.

Read from the wire record the ``ws_*`` kinds left (``faults.vocabulary``) and,
for sessions no fault ended, from how mitmproxy saw the session end
(``flow.websocket.close_code``, ``closed_by_client``).

Events: ``ws.close`` (a close frame reached the client: facts code, reason, by
proxy|server), ``ws.client_closed`` (the client closed first), ``ws.fin`` /
``ws.rst`` (the connection ended without a close frame), ``ws.corrupt`` (a frame
the client must reject: facts ws_corrupt), ``ws.stall`` (messages stopped; the
client gives up on its own), ``proxy.released`` (open at proxy shutdown).
"""

from __future__ import annotations

from faults import vocabulary
from faults.classify.outcome import Event, Outcome

# close codes an endpoint never sends: mitmproxy (wsproto) relays them as 1000
LOCAL_ONLY = {1006: 1000, 1015: 1000}


def session_facts(flow) -> dict:
    ws = flow.websocket
    msgs = ws.messages if ws else []
    return {
        "protocol": flow.request.http_version,
        "tls": bool(flow.client_conn.tls_established),
        "status": flow.response.status_code if flow.response else None,
        "messages_from_client": sum(1 for m in msgs if m.from_client and not m.dropped),
        "messages_to_client": sum(1 for m in msgs if not m.from_client and not m.dropped),
        "messages_dropped": sum(1 for m in msgs if m.dropped),
        "closed_by_client": ws.closed_by_client if ws else None,
        "mitmproxy_close_code": ws.close_code if ws else None,
    }


def outcome_of(flow) -> Outcome:
    wire = flow.metadata.get(vocabulary.WIRE, {})
    facts = {**session_facts(flow), **{k: v for k, v in wire.items() if v is not None}}
    fault = wire.get("ws_fault")
    ws = flow.websocket
    if fault == "close":
        code, reason = wire["ws_close_code"], wire.get("ws_close_reason", "")
        o = Outcome(Event.WS_CLOSE, "websocket.close", f"close frame {code} {reason!r} from the proxy",
                    {"code": code, "reason": reason, "by": "proxy"})
    elif fault == "drop":
        how = wire["conn_end"]
        o = Outcome(Event(f"ws.{how}"), "websocket.abnormal_closure",
                    f"{'TCP RST' if how == 'rst' else 'FIN'} without a close frame, after "
                    f"{facts['messages_to_client']} message(s) to the client")
    elif fault == "corrupt":
        o = Outcome(Event.WS_CORRUPT, "websocket.protocol_error",
                    f"a frame the client must reject ({wire['ws_corrupt']})")
    elif fault == "stall":
        o = Outcome(Event.WS_STALL, "websocket.stalled",
                    "messages stopped (close frames too); the connection stayed open")
    elif wire.get("released_at_shutdown"):
        o = Outcome(Event.PROXY_RELEASED, "network.tcp.closed", "open at proxy shutdown (closed)")
    elif ws is not None and ws.closed_by_client:
        o = Outcome(Event.WS_CLIENT_CLOSED, "websocket.close", f"the client closed the session ({ws.close_code})",
                    {"code": ws.close_code, "reason": ws.close_reason or "", "by": "client"})
    else:
        code = ws.close_code if ws is not None else None
        code = LOCAL_ONLY.get(code, code) if code is not None else 1005
        o = Outcome(Event.WS_CLOSE, "websocket.close", f"the upstream closed the session ({code})",
                    {"code": code, "reason": (ws.close_reason or "") if ws else "", "by": "server"})
    if fault == "delay":
        o.summary += f"; each message delayed {wire.get('delay_ms')} ms"
    o.facts = {**facts, **o.facts}
    return o
