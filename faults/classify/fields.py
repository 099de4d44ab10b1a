"""What k6 and the other clients report, as report-record fields, and what a record's
fields count as.

Writers (``faults.report.records``) take the k6 fields of every record from here;
readers (``fault_metrics``, the HTML report) count a record with ``k6_code_label``
and ``client_errors``. It reads records as plain dicts: a report file of any age.
"""

from __future__ import annotations

K6_FIELDS = ("k6_error_code", "k6_error", "certainty", "note")
NO_ERROR = (0, None, "ok", "")  # what each client profile reports when nothing went wrong


def k6_fields(c) -> dict:
    """What k6 reports for a ``Classification``, as a record's fields; all None without
    one (nothing is known, e.g. a Toxiproxy connection's clean end)."""
    if c is None:
        return dict.fromkeys(K6_FIELDS)
    k6 = c.k6
    return {"k6_error_code": k6.error, "k6_error": k6.message, "certainty": k6.certainty, "note": k6.note or None}


def k6_ws_fields(c) -> dict:
    """What k6/ws's script sees of a WebSocket session's end: the close code and the
    error event's text (k6 sets no error_code for a session)."""
    k6 = c.k6
    return {"ended": c.outcome.event, "ws_close_code": k6.extra.get("close_code"), "ws_error": k6.message,
            "certainty": k6.certainty, "note": k6.note or None}


def code_text(code) -> str:
    """A k6 code as a label value: ``none`` where nothing is known."""
    return "none" if code is None else str(code)


def k6_code_label(rec: dict) -> str:
    """The outcome a record counts under: its k6 code as text; ``ws`` for a WebSocket
    session (k6 sets no error_code for one), ``h3`` for an HTTP/3 flow (k6 has no HTTP/3
    client), ``none`` where nothing is known."""
    if rec.get("record") == "websocket":
        return "ws"
    if rec.get("k6_error_code") is None and rec.get("http_version") == "HTTP/3":
        return "h3"
    return code_text(rec.get("k6_error_code"))


def client_errors(clients: dict | None):
    """(client, error as text) for each client profile in a record's ``clients``
    that reports an error (not 0, None, "ok" or "")."""
    for name, r in (clients or {}).items():
        err = r.get("error") if isinstance(r, dict) else None
        if err not in NO_ERROR:
            yield name, str(err)
