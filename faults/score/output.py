"""The rows out: a live terminal table, JSON, JUnit XML, one self-contained HTML page,
and the comparison with a saved JSON (``--baseline``)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import IO
from xml.sax.saxutils import quoteattr, escape

# what "behaviour" means for --baseline: these fields, intervals within noise
COMPARED = ("attempts", "methods", "resent_methods", "retry_after_honoured", "new_connection", "exit_code", "hung")
INTERVAL_NOISE_MS = 150  # plus 25 % of the interval: scheduler and process start-up jitter


# -- the terminal ----------------------------------------------------------------

COLUMNS = [("n", 5), ("fault", 38), ("att", 3), ("intervals ms", 16), ("methods", 12), ("exit", 4),
           ("hung", 4), ("ms", 6), ("verdict", 7)]


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _intervals(row: dict) -> str:
    return ",".join(str(i) for i in row["intervals_ms"]) or "-"


def _methods(row: dict) -> str:
    ms = [m or "TLS" for m in row["methods"]]
    if ms and len(set(ms)) == 1:
        return f"{ms[0]}x{len(ms)}" if len(ms) > 1 else ms[0]
    return ",".join(ms) or "-"


STOCK = ("k6", "curl", "node", "requests", "httpx")  # the stock clients shown beside each row


def _stock(row: dict) -> str:
    """What the annotation predicts the stock clients report, for comparison with CMD."""
    c = row.get("clients") or {}
    return " ".join(f"{name}:{c[name]}" for name in STOCK if name in c)


class Live:
    """Prints the table row by row as runs finish; on a terminal, a status line while a run goes."""

    def __init__(self, total: int, out: IO = sys.stdout, err: IO = sys.stderr):
        self.total, self.out, self.err = total, out, err
        self.t0 = time.monotonic()
        self.tty = hasattr(err, "isatty") and err.isatty()
        self.head()

    def head(self) -> None:
        print("  ".join(name.ljust(w) for name, w in COLUMNS) + "  stock clients predicted", file=self.out)
        print("  ".join("-" * w for _, w in COLUMNS), file=self.out, flush=True)

    def starting(self, n: int, label: str) -> None:
        if self.tty:
            self.err.write(f"\r\033[K[{n}/{self.total}] {label}  ({time.monotonic() - self.t0:.0f} s elapsed)")
            self.err.flush()

    def row(self, n: int, row: dict) -> None:
        if self.tty:
            self.err.write("\r\033[K")
            self.err.flush()
        cells = [f"{n}/{self.total}", row["fault"] or "(baseline: no fault)", str(row["attempts"]),
                 _intervals(row), _methods(row), "-" if row["exit_code"] is None else str(row["exit_code"]),
                 "yes" if row["hung"] else "no", str(row["duration_ms"]),
                 row.get("verdict") or "-"]
        line = "  ".join(_fit(c, w).ljust(w) for c, (_, w) in zip(cells, COLUMNS))
        line = (line + "  " + _stock(row)).rstrip()
        if row.get("changed"):
            line += f"  changed: {', '.join(row['changed'])}"
        print(line, file=self.out, flush=True)
        for reason in row.get("reasons") or []:
            print(f"{'':7}- {reason}", file=self.out, flush=True)

    def summary(self, rows: list[dict]) -> None:
        failed = sum(1 for r in rows if r.get("verdict") == "fail")
        judged = sum(1 for r in rows if r.get("verdict"))
        hung = sum(1 for r in rows if r["hung"])
        text = f"\n{len(rows)} fault{'' if len(rows) == 1 else 's'} in {time.monotonic() - self.t0:.1f} s; {hung} hung"
        if judged:
            text += f"; {judged - failed} passed, {failed} failed the policy"
        print(text, file=self.out, flush=True)


# -- files ---------------------------------------------------------------------

def document(rows: list[dict], baseline: dict | None, meta: dict) -> dict:
    return {"meta": meta, "baseline_run": baseline, "rows": rows}


def write_json(path: str | Path, doc: dict) -> None:
    Path(path).write_text(json.dumps(doc, indent=1, default=str) + "\n")


def write_junit(path: str | Path, rows: list[dict], meta: dict) -> None:
    """One testcase per fault named by its spec; a failing row is a failure element."""
    fails = sum(1 for r in rows if r.get("verdict") == "fail")
    total_s = sum(r["duration_ms"] for r in rows) / 1000
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<testsuites><testsuite name={quoteattr("faults score: " + meta.get("command", ""))} '
           f'tests="{len(rows)}" failures="{fails}" errors="0" time="{total_s:.3f}">']
    for r in rows:
        out.append(f'  <testcase classname="faults.score" name={quoteattr(r["fault"])} '
                   f'time="{r["duration_ms"] / 1000:.3f}">')
        if r.get("verdict") == "fail":
            msg = "; ".join(r["reasons"])
            out.append(f"    <failure message={quoteattr(msg)}>{escape(json.dumps(_brief(r), indent=1))}</failure>")
        out.append(f"    <system-out>{escape(json.dumps(_brief(r), default=str))}</system-out>")
        out.append("  </testcase>")
    out.append("</testsuite></testsuites>")
    Path(path).write_text("\n".join(out) + "\n")


def _brief(row: dict) -> dict:
    return {k: row.get(k) for k in ("attempts", "intervals_ms", "methods", "resent_methods", "retry_after_honoured",
                                    "new_connection", "gave_up_ms", "exit_code", "hung", "duration_ms",
                                    "stderr_tail")}


def write_html(path: str | Path, doc: dict) -> None:
    """One self-contained page, the scorecard as ``faults report --html --score`` shows it
    (the product's one HTML renderer: faults.htmlreport.render)."""
    from faults.htmlreport import render

    Path(path).write_text(render.render_score(doc), encoding="utf-8")


# -- --baseline ---------------------------------------------------------------------

def load_baseline(path: str | Path) -> dict[str, dict]:
    """A saved ``--json`` file -> its rows by fault. A file that is not one is a one-line error."""
    from faults.errors import SpecError

    try:
        doc = json.loads(Path(path).read_text())
        rows = doc["rows"]
        return {r["fault"]: r for r in rows}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise SpecError(f"not a saved faults score --json file ({type(e).__name__}: {e})", str(path)) from None


def changes(row: dict, before: dict | None) -> list[str] | None:
    """The behaviour fields that differ from the saved row (None: the fault was not in it)."""
    if before is None:
        return None
    out = [k for k in COMPARED if row.get(k) != before.get(k)]
    a, b = row.get("intervals_ms") or [], before.get("intervals_ms") or []
    if len(a) != len(b) or any(abs(x - y) > INTERVAL_NOISE_MS + 0.25 * max(x, y) for x, y in zip(a, b)):
        out.append("intervals_ms")
    return out
