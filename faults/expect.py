"""Expectations on report records: "this many flows had that k6 code / that fault /
that client error". One matcher for the pytest fixture's ``fault_proxy.expect(...)``
(records read from the report file) and the control endpoint's ``/expect`` (records
the proxy keeps in memory); both work on report records (``faults.report``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, fields
from typing import Any

from faults import numbers

MAX_TIMEOUT = 60.0


@dataclass(frozen=True)
class Expectation:
    """``code``: the k6 error code (0 = no error); ``fault``: the fault spec (exact text or
    just its kind, ``"reset"``), ``False`` for flows with no fault; ``url``: a substring of
    the URL; ``client`` and ``error``: what that client profile predicts (``client="node",
    error="ECONNRESET"``; ``error`` alone: any client; ``"ok"``: no error); ``count``: how
    many flows must match (None: at least one)."""

    code: int | None = None
    count: int | None = None
    fault: str | bool | None = None
    url: str | None = None
    client: str | None = None
    error: Any = None

    def __post_init__(self):
        if self.client is not None:
            from faults.classify import clients as profiles

            profiles.choose([self.client])  # ValueError with a did-you-mean
        if self.count is not None and (isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 0):
            raise ValueError(f"count={self.count!r}: expected a whole number >= 0")
        if self.code is not None and (isinstance(self.code, bool) or not isinstance(self.code, int)):
            raise ValueError(f"code={self.code!r}: expected a k6 error code (a whole number, 0 = no error)")

    def matches(self, r: dict) -> bool:
        if self.code is not None and r.get("k6_error_code") != self.code:
            return False
        if (self.client is not None or self.error is not None) and not self._client_matches(r):
            return False
        if self.url is not None and self.url not in (r.get("url") or ""):
            return False
        if self.fault is False and r.get("fault"):
            return False
        if isinstance(self.fault, str):
            f = r.get("fault") or ""
            if not (f == self.fault or f.split(" ", 1)[0] == self.fault or f.startswith(self.fault + " ")):
                return False
        return True

    def _client_matches(self, r: dict) -> bool:
        reports = r.get("clients") or {}
        chosen = [reports.get(self.client)] if self.client is not None else list(reports.values())
        return any(rep is not None and (self.error is None or _same(self.error, rep.get("error"))
                                        or any(_same(self.error, a.get("error")) for a in rep.get("alt", [])))
                   for rep in chosen)

    def met(self, n: int) -> bool:
        return n >= 1 if self.count is None else n == self.count

    def criteria(self) -> str:
        parts = [f"{k}={getattr(self, k)!r}" for k in ("code", "fault", "url", "client", "error")
                 if getattr(self, k) is not None]
        return ", ".join(parts) or "any flow"

    def wanted(self) -> str:
        return "at least 1" if self.count is None else str(self.count)


def _same(want, got) -> bool:
    """An error given as text (a query parameter) matches a numeric one (curl's exit code)."""
    return want == got or (isinstance(want, str) and not isinstance(got, str) and got is not None and want == str(got))


def hits(exp: Expectation, records: list[dict]) -> list[dict]:
    return [r for r in records if exp.matches(r)]


def explain(exp: Expectation, records: list[dict], *, caller: str = "expect", scope: str = "") -> str:
    """Why the expectation is not met: the criteria, the counts, every record (matches marked +)."""
    found = hits(exp, records)
    lines = [f"{caller}({exp.criteria()}): expected {exp.wanted()} matching flow(s), got {len(found)}"]
    got_codes = Counter(r.get("k6_error_code") for r in records)
    lines.append(f"  k6 codes of all {len(records)} flow(s) in {scope or 'this test'}: "
                 + (", ".join(f"{c}: {n}" for c, n in sorted(got_codes.items(), key=lambda kv: str(kv[0]))) or "none"))
    if records:
        lines.append("")
        shown = f"{exp.client} error" if exp.client else "k6 error"
        lines.append(f"    {'method':6}  {'url':44}  {'fault':32}  {'k6 code':7}  {shown}")
        for r in records:
            mark = "+ " if exp.matches(r) else "  "
            err = r.get("k6_error")
            if exp.client:
                rep = (r.get("clients") or {}).get(exp.client) or {}
                err = rep.get("error")
            lines.append(f"  {mark}{_short(r.get('method'), 6):6}  {_short(r.get('url'), 44):44}  "
                         f"{_short(r.get('fault'), 32):32}  {_short(r.get('k6_error_code'), 7):7}  {_short(err, 50)}")
        lines.append("  (+ = matches)")
    return "\n".join(lines)


def summary(r: dict, client: str | None = None) -> dict:
    """A short view of one record for an answer: what matched."""
    out = {k: r.get(k) for k in ("url", "method", "http_version", "status", "fault", "k6_error_code", "k6_error")}
    if client is not None:
        out["client"] = (r.get("clients") or {}).get(client)
    return out


def _short(s: Any, n: int) -> str:
    s = "-" if s in (None, "") else str(s)
    return s if len(s) <= n else s[: n - 1] + "…"


# -- from a query string (the control endpoint) ------------------------------------
PARAMS = tuple(f.name for f in fields(Expectation)) + ("timeout",)


def from_query(query: dict[str, str]) -> tuple[Expectation, float]:
    """``code=1220&count=1&fault=reset&url=/api&client=node&error=ECONNRESET&timeout=5``
    -> (Expectation, timeout s). ValueError naming the parameter on bad input."""
    import difflib

    for k in query:
        if k not in PARAMS:
            close = difflib.get_close_matches(k, PARAMS, n=1, cutoff=0.6)
            raise ValueError(f"unknown parameter {k!r}: " + (f"did you mean {close[0]}?" if close else
                                                            "parameters: " + ", ".join(PARAMS)))
    kw: dict[str, Any] = {}
    for name in ("code", "count"):
        if name in query:  # SpecError is a ValueError naming the parameter and the rule
            kw[name] = numbers.whole(query[name], name, 0)
    if "fault" in query:
        f = query["fault"]
        kw["fault"] = False if f.lower() in ("false", "none") else f
    for name in ("url", "client", "error"):
        if name in query:
            kw[name] = query[name]
    timeout = 5.0
    if "timeout" in query:
        timeout = numbers.real(query["timeout"], "timeout", 0, MAX_TIMEOUT)  # seconds
    try:
        return Expectation(**kw), timeout
    except ValueError as e:
        raise ValueError(f"client={kw.get('client')!r}: {e}" if "profile" in str(e) else str(e)) from None
