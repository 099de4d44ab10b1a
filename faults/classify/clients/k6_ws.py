"""k6 1.1.0 WebSocket sessions (``k6/ws`` and ``k6/experimental/websockets``), as
measured in ``tests/e2e/test_websocket.py``. k6 sets no ``error_code`` for a
session: a script sees the upgrade status, ``error`` event texts and a close
code. ``message`` is the error text (k6/ws and experimental agree unless
``extra["experimental"]`` says otherwise); ``extra["close_code"]`` is the code
k6/ws's ``close`` handler gets (experimental's close event carries none).
"""

from __future__ import annotations

from faults.classify.outcome import ClientReport, Event, Outcome

NAME = "k6"
# gorilla/websocket CloseError texts
GORILLA = {1000: "normal", 1001: "going away", 1002: "protocol error", 1003: "unsupported data",
           1005: "no status", 1006: "abnormal closure", 1007: "invalid payload data", 1008: "policy violation",
           1009: "message too big", 1010: "mandatory extension missing", 1011: "internal server error",
           1015: "TLS handshake error"}
SCRIPT_CLOSE = 1001  # k6/ws's socket.close() default: what its close handler reports when the script closed


def close_error(code: int, reason: str) -> str:
    name = f" ({GORILLA[code]})" if code in GORILLA else ""
    return f"websocket: close {code}{name}" + (f": {reason}" if reason else "")


def ws(error: str, close: int | None, certainty: str = "exact", note: str = "",
       experimental: dict | None = None) -> ClientReport:
    extra = {"close_code": close}
    if experimental is not None:  # where k6/experimental/websockets differs from k6/ws
        extra["experimental"] = experimental
    return ClientReport(NAME, None, error, certainty=certainty, note=note, entry=None, extra=extra)


def report(o: Outcome) -> ClientReport | None:
    f, ev = o.facts, o.event
    if ev in (Event.WS_CLOSE, Event.WS_CLIENT_CLOSED):
        code, reason = f.get("code"), f.get("reason", "")
        if ev == Event.WS_CLIENT_CLOSED or code in (1000, 1001):
            return ws("", code)
        return ws(close_error(code, reason), code)
    if ev == Event.WS_FIN:
        return ws("websocket: close 1006 (abnormal closure): unexpected EOF", 1006)
    if ev == Event.WS_RST:
        return ws("write: broken pipe", SCRIPT_CLOSE, certainty="likely",
                  note="k6/ws reports the reset on its next write ('write tcp A->B: write: broken pipe') and "
                       "closes with 1001; experimental reports no error, a close event only",
                  experimental={"error": ""})
    if ev == Event.WS_CORRUPT:
        if f.get("ws_corrupt") == "invalid_utf8":
            return ws("", SCRIPT_CLOSE, note="k6 does not check UTF-8: the message arrives with U+FFFD in place "
                      "of the bad bytes and the session goes on until the script closes it")
        return ws("websocket: close sent", SCRIPT_CLOSE,
                  note="gorilla rejects the frame and sends close 1002; experimental reports no error",
                  experimental={"error": ""})
    if ev == Event.WS_STALL:
        return ws("", SCRIPT_CLOSE, note="no error: the session stays open until the script closes it or k6's "
                  "iteration ends")
    if ev == Event.PROXY_RELEASED:
        return ws("", None, certainty="uncertain", note="the proxy stopped with the session open")
    return None
