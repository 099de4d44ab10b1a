"""The report's records, built here only, one per outcome, written once it is known.

Every record has ``v`` (this format's version), ``ts``, ``record`` (its type:
"flow", "tls_handshake", "dns", "websocket" or "connection"), ``worker`` (the
``fault_worker`` id of the process that wrote it, ``""`` alone), ``t`` (seconds after the
run's t0 when it started) and ``duration_ms`` (start to settled; None where no start is
known: a TLS handshake, a DNS query, a raw connection), the k6 fields (``k6_error_code``,
``k6_error``, ``certainty``, ``note``), ``outcome`` (event, catalog entry,
summary), ``clients`` (what each client profile predicts) and ``facts``.

What k6 and the other clients report is the classifier's (``c``, a
``faults.classify.Classification``; its record fields: ``faults.classify.fields``).
"""

from __future__ import annotations

import time

from faults import worker
from faults.classify.fields import k6_fields, k6_ws_fields
from faults.gates import clock

FORMAT = 2


def _base(record: str, start: float | None = None) -> dict:
    """The head every record starts with: format version, time, record type, the
    worker that wrote it (``faults.worker``; ``""`` for a lone proxy), ``t``: when
    it started (``start``, else now), in seconds after the run's t0
    (``faults.gates.clock``: all workers share it), and ``duration_ms``: from
    ``start`` to now, when the outcome was settled (None without a start)."""
    now = time.time()
    clock.start(start if start is not None else now)  # nothing started the clock yet: this record does
    return {"v": FORMAT, "ts": round(now, 3), "record": record, "worker": worker.current(),
            "t": round(clock.t(start if start is not None else now), 4),
            "duration_ms": round((now - start) * 1000, 1) if start is not None else None}


def _classified(c) -> dict:
    """The classification's outcome, client reports and facts."""
    return {"outcome": c.outcome.as_dict(), "clients": c.clients_dict(), "facts": c.outcome.facts}


def flow_record(flow, c, fault: dict | None, annotation: dict | None) -> dict:
    """The record of one finished HTTP flow and its ``Classification``. A
    text/event-stream response a fault cut or paused also says how many whole
    events reached the client first (``events_sent``)."""
    fault = fault or {}
    extra = {}
    if flow.response is not None and flow.response.headers.get("content-type", "").startswith("text/event-stream"):
        extra["events_sent"] = c.outcome.facts.get("events_sent")
    return {
        **_base("flow", flow.request.timestamp_start),
        "flow_id": flow.id,
        # when the request began and on which client connection: a reader (faults score) times
        # attempts from their start and tells a fresh connection from a re-used one
        "started": round(flow.request.timestamp_start, 3) if flow.request.timestamp_start else None,
        "conn": flow.client_conn.id,
        "url": flow.request.pretty_url,
        "method": flow.request.method,
        # the client's own id for the request, if it sends one: correlates its log with this record
        "request_id": flow.request.headers.get("x-request-id"),
        "http_version": flow.request.http_version,
        "status": flow.response.status_code if flow.response else None,
        "rule": fault.get("rule"),
        "fault": fault.get("spec"),
        **k6_fields(c),
        "client_retry": c.k6.retried,
        "collateral_of": c.outcome.facts.get("collateral_of"),
        "error": flow.error.msg if flow.error else None,
        **_classified(c),
        "annotation": annotation,
        **extra,
    }


def handshake_record(c, *, url: str, host: str, sni: str | None, client: str | None, rule: str, fault: str,
                     error: str) -> dict:
    """The record of one failed (or deliberately ended) TLS handshake."""
    return {
        **_base("tls_handshake"),
        "url": url,
        "host": host,
        "sni": sni,
        "client": client,
        "rule": rule,
        "fault": fault,
        **k6_fields(c),
        "error": error or None,
        **_classified(c),
    }


def connection_record(c, *, proxy: str, listen: str | None, upstream: str | None, client: str | None, n: int,
                      end: str, why: str | None, bytes_up: int, bytes_down: int, toxics: dict) -> dict:
    """The record of one raw TCP connection through a Toxiproxy proxy
    (``faults.toxiproxy``); ``c``: ``faults.classify.classify_connection``'s reading
    of it (None: its end says nothing, and the k6 fields are None)."""
    return {
        **_base("connection"),
        "proxy": proxy,
        "listen": listen,
        "upstream": upstream,
        "client": client,
        "connection": n,
        "end": end,
        "why": why,
        "bytes_up": bytes_up,
        "bytes_down": bytes_down,
        "toxics": toxics,
        **k6_fields(c),
    }


def dns_record(c, *, name: str, qtype: str, server: str, client: str | None, rule: str | None,
               fault: str | None, lookup: int) -> dict:
    """The record of one DNS query the DNS mode answered (or dropped). ``lookup``
    numbers the lookups of this name from this client: its queries share one."""
    return {
        **_base("dns"),
        "name": name,
        "qtype": qtype,
        "server": server,
        "client": client,
        "lookup": lookup,
        "rule": rule,
        "fault": fault,
        **k6_fields(c),
        **_classified(c),
    }


def websocket_record(flow, c, fault: dict | None) -> dict:
    """The record of one WebSocket session, written when it ended. ``ws_close_code`` is
    the close code k6/ws's script sees, ``ws_error`` its error event text (k6 sets no
    error_code for a session); a refused upgrade is a flow record instead."""
    fault, f = fault or {}, c.outcome.facts
    return {
        **_base("websocket", flow.request.timestamp_start),
        "flow_id": flow.id,
        "url": flow.request.pretty_url,
        "http_version": flow.request.http_version,
        "status": f.get("status"),
        "rule": fault.get("rule"),
        "fault": fault.get("spec"),
        "messages_to_client": f.get("messages_to_client"),
        "messages_from_client": f.get("messages_from_client"),
        **k6_ws_fields(c),
        **_classified(c),
    }
