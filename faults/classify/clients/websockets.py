"""The Python ``websockets`` library (17.x, asyncio client): the exception
``recv()`` raises when a session ends, as measured in ``tests/e2e/test_websocket.py``."""

from __future__ import annotations

from faults.classify.outcome import ClientReport, Event, Outcome

NAME = "websockets"
# websockets.frames.CLOSE_CODE_EXPLANATIONS
EXPLAIN = {1000: "OK", 1001: "going away", 1002: "protocol error", 1003: "unsupported data",
           1005: "no status received [internal]", 1007: "invalid frame payload data", 1008: "policy violation",
           1009: "message too big", 1010: "mandatory extension", 1011: "internal error", 1012: "service restart",
           1013: "try again later", 1014: "bad gateway"}
CORRUPT = {"bad_opcode": "sent 1002 (protocol error) invalid opcode; no close frame received",
           "masked": "sent 1002 (protocol error) incorrect masking; no close frame received",
           "invalid_utf8": "sent 1007 (invalid frame payload data) invalid start byte at position 0; "
                           "no close frame received"}


def explain(code: int) -> str:
    if code in EXPLAIN:
        return EXPLAIN[code]
    return "registered" if 3000 <= code < 4000 else "private use" if 4000 <= code < 5000 else "unknown"


def closed_text(code: int, reason: str) -> str:
    one = f"{code} ({explain(code)})" + (f" {reason}" if reason else "")
    return f"received {one}; then sent {one}"


def report(o: Outcome) -> ClientReport | None:
    f, ev = o.facts, o.event
    if ev == Event.WS_CLOSE and f.get("by") in ("proxy", "server"):
        code = f["code"]
        cls = "ConnectionClosedOK" if code in (1000, 1001, 1005) else "ConnectionClosedError"
        return ClientReport(NAME, cls, closed_text(code, f.get("reason", "")), extra={"close_code": code})
    if ev in (Event.WS_FIN, Event.WS_RST):
        return ClientReport(NAME, "ConnectionClosedError", "no close frame received or sent", extra={"close_code": None})
    if ev == Event.WS_CORRUPT:
        return ClientReport(NAME, "ConnectionClosedError", CORRUPT[f["ws_corrupt"]], extra={"close_code": None})
    if ev == Event.WS_STALL:
        return ClientReport(NAME, "TimeoutError", "", note="recv() waits: the client's own timeout ends it")
    return None
