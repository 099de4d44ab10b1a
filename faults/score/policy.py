"""The user's expectations (``--policy FILE``, YAML) and the verdict they give each row.

::

    max_attempts: 3            # requests per run, the first one included
    min_backoff_ms: 200        # the shortest wait allowed between two attempts
    honour_retry_after: true   # re-sends after a Retry-After response wait for it
    retry_methods: [GET, HEAD, PUT, DELETE]   # methods that may be re-sent
    give_up_within_ms: 5000    # first request to the last failure
    must_not_hang: true        # killed at --timeout = fail
    overrides:                 # per fault: the spec as given, or a fault kind
      hang: {give_up_within_ms: 12000}
      "status code=503 retry_after=1": {max_attempts: 2}

A key left out is not checked. An unknown key or a value of the wrong type is a one-line
error naming the file and the key, before any run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from faults import plan as planmod
from faults.errors import SpecError

CHECKS = {  # key -> (type, what it must be)
    "max_attempts": (int, "a whole number >= 1"),
    "min_backoff_ms": (int, "a whole number of ms >= 0"),
    "honour_retry_after": (bool, "true or false"),
    "retry_methods": (list, "a list of HTTP methods"),
    "give_up_within_ms": (int, "a whole number of ms >= 0"),
    "must_not_hang": (bool, "true or false"),
}


@dataclass
class Policy:
    rules: dict = field(default_factory=dict)
    overrides: dict = field(default_factory=dict)  # fault label or kind -> rules

    def for_fault(self, label: str | None, kind: str | None = None) -> dict:
        """The rules for one fault: the defaults, then its kind's override, then its own."""
        out = dict(self.rules)
        for key in (kind, label):
            if key is not None and key in self.overrides:
                out.update(self.overrides[key])
        return out


def _checked(raw, where: str) -> dict:
    if not isinstance(raw, dict):
        raise SpecError(f"expected a mapping of {', '.join(CHECKS)}, got {raw!r}", where)
    out = {}
    for key, value in raw.items():
        if key not in CHECKS:
            from faults.spec import did_you_mean

            raise SpecError(f"unknown key {key!r}{did_you_mean(key, CHECKS)} (known: {', '.join(CHECKS)})", where)
        typ, what = CHECKS[key]
        if value is None:
            continue
        if typ is int:
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= (1 if key == "max_attempts" else 0)
        elif typ is list:
            ok = isinstance(value, list) and all(isinstance(m, str) and m.isalpha() for m in value)
            if ok:
                value = [m.upper() for m in value]
        else:
            ok = isinstance(value, typ)
        if not ok:
            raise SpecError(f"{key}: expected {what}, got {value!r}", where)
        out[key] = value
    return out


def parse(doc, source: str) -> Policy:
    if doc is None:
        return Policy()
    if not isinstance(doc, dict):
        raise SpecError("a policy is a YAML mapping (max_attempts, min_backoff_ms, ...)", source)
    doc = dict(doc)
    overrides = doc.pop("overrides", None) or {}
    if not isinstance(overrides, dict):
        raise SpecError("overrides: expected a mapping of fault (spec as given, or kind) -> keys", source)
    return Policy(_checked(doc, source),
                  {str(k): _checked(dict(v) if isinstance(v, dict) else v, f"{source}: overrides[{k!r}]")
                   for k, v in overrides.items()})


def load(path: str | Path) -> Policy:
    p = Path(path).expanduser()
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError(f"cannot read the policy: {getattr(e, 'strerror', None) or e}", str(p)) from None
    return parse(planmod.parse_yaml(text, str(p)), str(p))


def judge(row: dict, rules: dict, timeout: float) -> tuple[str, list[str]]:
    """``("pass"|"fail", reasons)`` for one row under its rules."""
    reasons = []
    if row.get("hung") and rules.get("must_not_hang"):
        reasons.append(f"hung: killed after {timeout:g} s")
    n = rules.get("max_attempts")
    if n is not None and row["attempts"] > n:
        reasons.append(f"{row['attempts']} attempts > max_attempts {n}")
    gap = rules.get("min_backoff_ms")
    if gap is not None and row["intervals_ms"] and min(row["intervals_ms"]) < gap:
        reasons.append(f"re-sent after {min(row['intervals_ms'])} ms < min_backoff_ms {gap}")
    if rules.get("honour_retry_after") and row.get("retry_after_honoured") is False:
        reasons.append("re-sent before the Retry-After delay")
    allowed = rules.get("retry_methods")
    if allowed is not None:
        reasons += [f"re-sent {m}" for m in row.get("resent_methods") or [] if m not in allowed]
    limit = rules.get("give_up_within_ms")
    if limit is not None:
        if row.get("gave_up_ms") is not None and row["gave_up_ms"] > limit:
            reasons.append(f"gave up after {row['gave_up_ms']} ms > give_up_within_ms {limit}")
        elif row.get("hung") and not rules.get("must_not_hang"):
            reasons.append(f"did not give up within {limit} ms (hung)")
    return ("fail" if reasons else "pass"), reasons
