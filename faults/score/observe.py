"""What CMD did on the wire during one run, read from the proxy's report records.

Only the records' documented fields are read (``faults/report/records.py``): a flow record's
``started`` (request start), ``ts`` (written when its outcome was known), ``conn``
(client connection), ``method``, ``url``, ``status``, ``fault``, ``k6_error_code``,
``error``, ``facts`` and ``clients``; a failed TLS handshake's record counts as an
attempt without a method (no request was ever sent).
"""

from __future__ import annotations

from collections import Counter
from urllib.parse import urlsplit

# RFC 9110 9.2.2: the methods a client may re-send on its own; the rest are non-idempotent
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
# Retry-After is honoured when the next attempt began at least this long after it was
# announced, minus the proxy's timing noise (ms)
RETRY_AFTER_SLACK_MS = 50


def attempts_of(records: list[dict]) -> list[dict]:
    """The run's attempts, oldest first: flow records and failed TLS handshakes."""
    out = [r for r in records if r.get("record") in ("flow", "tls_handshake")]
    return sorted(out, key=start_of)


def start_of(rec: dict) -> float:
    return rec.get("started") or rec.get("ts") or 0.0


def failed(rec: dict) -> bool:
    """The attempt failed as the client saw it: a handshake fault, an error, an error status."""
    if rec.get("record") == "tls_handshake":
        return True
    status = rec.get("status")
    return bool(rec.get("error")) or (status is not None and status >= 400) or status is None or bool(
        rec.get("k6_error_code"))


def ends_connection(rec: dict) -> bool:
    """The fault ended the attempt's connection (RST/FIN, a GOAWAY, a failed handshake)."""
    if rec.get("record") == "tls_handshake":
        return True
    facts = rec.get("facts") or {}
    return bool(rec.get("fault")) and (facts.get("conn_end") in ("rst", "fin") or facts.get("h2_frame") == "goaway")


def request_key(rec: dict) -> tuple[str, str]:
    url = urlsplit(rec.get("url") or "")
    return (rec.get("method") or "", url.path + (f"?{url.query}" if url.query else ""))


def stock_clients(rec: dict | None) -> dict:
    """What the annotation predicts each stock client reports for this fault: ``{client: error}``."""
    if not rec:
        return {}
    return {name: (p.get("error") if p.get("error") is not None else "ok")
            for name, p in (rec.get("clients") or {}).items() if isinstance(p, dict)}


def observe(records: list[dict], retry_after_s: float | None = None,
            baseline: Counter | None = None) -> dict:
    """The wire fields of one row. ``baseline``: how often each (method, path) was sent in
    the no-fault run, so a client's own repeated requests are not taken for re-sends."""
    atts = attempts_of(records)
    starts = [start_of(r) for r in atts]
    intervals = [round((b - a) * 1000) for a, b in zip(starts, starts[1:])]
    sent = Counter(request_key(r) for r in atts if r.get("method"))
    base = baseline if baseline is not None else Counter({k: 1 for k in sent})
    resent = sorted({m for (m, p), n in sent.items() if n > base.get((m, p), 0)})
    faulted = [r for r in atts if r.get("fault")]
    return {
        "attempts": len(atts),
        "intervals_ms": intervals,
        "methods": [r.get("method") for r in atts],
        "statuses": [r.get("status") for r in atts],
        "resent_methods": resent,
        "resent_non_idempotent": any(m not in IDEMPOTENT for m in resent),
        "retry_after_honoured": _retry_after_honoured(atts, retry_after_s),
        "new_connection": _new_connection(atts),
        "gave_up_ms": _gave_up_ms(atts),
        "clients": stock_clients(faulted[0] if faulted else None),
        "k6_error_code": faulted[0].get("k6_error_code") if faulted else None,
    }


def _retry_after_honoured(atts: list[dict], retry_after_s: float | None) -> bool | None:
    """After each response carrying the fault's Retry-After, did the next attempt wait for it?
    None when nothing carried one or nothing was re-sent after it."""
    if retry_after_s is None:
        return None
    waits = [(start_of(nxt) - start_of(cur)) * 1000 for cur, nxt in zip(atts, atts[1:])
             if cur.get("fault") and cur.get("status") is not None]
    if not waits:
        return None
    return all(w >= retry_after_s * 1000 - RETRY_AFTER_SLACK_MS for w in waits)


def _new_connection(atts: list[dict]) -> bool | None:
    """After an attempt whose connection the fault ended, did the next attempt come on a new
    connection? None when no such attempt was followed by another."""
    seen = []
    for cur, nxt in zip(atts, atts[1:]):
        if ends_connection(cur):
            # a handshake record has no conn id: a new handshake is a new connection by definition
            seen.append(cur.get("conn") is None or nxt.get("conn") is None or nxt.get("conn") != cur.get("conn"))
    return all(seen) if seen else None


def _gave_up_ms(atts: list[dict]) -> int | None:
    """From the first attempt's start to the end of the last one, when the last one failed
    (the client gave up); None when it ended in success or nothing was sent."""
    if not atts or not failed(atts[-1]):
        return None
    return round(((atts[-1].get("ts") or 0) - start_of(atts[0])) * 1000)
