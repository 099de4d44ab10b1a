"""The report's tables as rows of plain values: by rule, per client, the scorecard.
(The table by k6 code is ``faults report``'s own: ``faults.tools.cli.summary_rows``.)"""

from __future__ import annotations

from collections import Counter

from faults.classify.fields import client_errors, k6_code_label
from faults.htmlreport.lanes import Lane
from faults.spec import kind_of

# issue 23's row fields in the order shown, with their headings; other keys follow
SCORE_COLUMNS = {"fault": "fault", "attempts": "attempts", "intervals_ms": "intervals ms", "methods": "methods",
                 "statuses": "statuses", "resent_methods": "re-sent", "resent_non_idempotent": "re-sent non-idempotent",
                 "retry_after_honoured": "Retry-After honoured", "new_connection": "new connection",
                 "gave_up_ms": "gave up ms", "exit_code": "exit", "hung": "hung", "duration_ms": "ms",
                 "clients": "stock clients predicted"}
IN_VERDICT = ("verdict", "reasons", "changed", "stderr_tail")  # the last column shows these


def by_rule(records: list[dict], times: list[float], lanes: list[Lane]) -> list[dict]:
    """One row per lane (every rule the plan has or the records name): how often it
    was applied, the k6 codes of those records, when first and last, how long those
    requests took (``duration_ms``: median and 95th percentile), and its windows."""
    rows: dict[str, dict] = {}
    for lane in lanes:
        rows[lane.rule] = {"rule": lane.rule, "injected": 0, "faults": Counter(), "codes": Counter(),
                           "first": None, "last": None, "lane": lane, "durations": []}
    for rec, t in zip(records, times):
        rule = rec.get("rule")
        if not rule:
            continue
        row = rows.get(str(rule))
        if row is None:  # not in the lanes: merge() names every rule the records carry
            continue
        row["injected"] += 1
        row["faults"][str(rec.get("fault") or "")] += 1
        row["codes"][k6_code_label(rec)] += 1
        row["first"] = t if row["first"] is None else min(row["first"], t)
        row["last"] = t if row["last"] is None else max(row["last"], t)
        d = rec.get("duration_ms")
        if isinstance(d, (int, float)) and not isinstance(d, bool):
            row["durations"].append(d)
    for row in rows.values():
        ds = sorted(row.pop("durations"))
        row["p50_ms"], row["p95_ms"] = (percentile(ds, 50), percentile(ds, 95)) if ds else (None, None)
        row["kinds"] = sorted({kind_of(f) for f in row["faults"] if f} or
                              ({kind_of(row["lane"].fault)} if row["lane"].fault else set()))
    return list(rows.values())


def percentile(ordered: list[float], q: float) -> float:
    """The nearest-rank ``q``th percentile of a sorted, non-empty list."""
    return ordered[max(0, min(len(ordered) - 1, -(-len(ordered) * q // 100) - 1))]


def by_client(records: list[dict]) -> list[dict]:
    """One row per client profile: the records that carry its report and how many
    of them it predicts an error for, with each error's count (most first)."""
    seen: Counter = Counter()
    errors: dict[str, Counter] = {}
    for rec in records:
        clients = rec.get("clients")
        if not isinstance(clients, dict):
            continue
        seen.update(clients.keys())
        for client, err in client_errors(clients):
            errors.setdefault(client, Counter())[err] += 1
    return [{"client": c, "records": n, "errors": sum(errors.get(c, Counter()).values()),
             "by_error": errors.get(c, Counter()).most_common()} for c, n in seen.items()]


def scorecard(rows: list[dict]) -> dict:
    """The scorecard of ``faults score`` rows (its ``--json`` file's ``rows``), as both
    ``faults score --html`` and ``faults report --html --score`` show it: ``columns``,
    (key, heading) pairs: issue 23's fields in a fixed order, then any other key of the
    rows, each only when some row has a value for it; ``rows``: each row's cells as short
    text, and what the verdict column shows (verdict, reasons, changed, stderr)."""
    cols = list(SCORE_COLUMNS)
    for r in rows:
        cols += [k for k in r if k not in cols and k not in IN_VERDICT]
    cols = [k for k in cols if k == "fault" or any(r.get(k) not in (None, [], {}, "") for r in rows)]
    return {"columns": [(k, SCORE_COLUMNS.get(k, k.replace("_", " "))) for k in cols],
            "rows": [{"fault": r.get("fault"), "verdict": r.get("verdict"), "reasons": list(r.get("reasons") or []),
                      "changed": list(r.get("changed") or []), "stderr_tail": list(r.get("stderr_tail") or []),
                      "cells": {c: cell(_tls_named(c, r.get(c))) for c in cols}} for r in rows]}


def _tls_named(key: str, value):
    """An attempt with no method is a TLS handshake (faults.score.observe): say so."""
    return [m or "TLS" for m in value] if key == "methods" and isinstance(value, list) else value


def cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(cell(v) for v in value) or "-"
    if isinstance(value, dict):  # e.g. the stock clients' predictions: "k6 1503, curl 0"
        return ", ".join(f"{k} {cell(v)}" for k, v in value.items()) or "-"
    return str(value)


def windows_text(lane: Lane) -> str:
    """``30s..90s, 120s..`` and the probability or its ramp, as the plan says them."""
    parts = [", ".join(f"{secs(a)}..{secs(b) if b is not None else ''}" for a, b in lane.windows)] if lane.windows else []
    if lane.ramp:
        parts.append("p " + " → ".join(f"{p:g}@{secs(t)}" for t, p in lane.ramp))
    elif lane.probability is not None:
        parts.append(f"p {lane.probability:g}")
    if lane.requests:
        parts.append(f"requests {lane.requests}")
    return "; ".join(parts)


def secs(t: float) -> str:
    return f"{t:g}s"
