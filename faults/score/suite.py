"""Which faults a score run goes through: one ``Entry`` per run, validated before the first run.

An entry is one runtime rule, in the plan's grammar: ``--faults SPEC`` takes the ``faults``
option's form (``[/filter/]KIND key=value ... [first=N]``), ``--suite FILE`` a YAML list of
rules (a plan's ``rules:``; each item a spec string or a mapping with ``fault``, ``match``,
``name``, ``first``...). Without either, ``default_suite`` picks the client-facing faults of
the catalog. Each entry is checked like the plan checks it (a bad one is a one-line error
naming where it came from), and a fault the score proxy cannot serve is refused up front:
DNS faults (no DNS is served to CMD) and TLS faults without ``--tls`` (no handshake to fault).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from faults import plan as planmod
from faults.errors import SpecError

# Retry-After values are whole seconds; one second keeps a retrying client's run short.
STATUS_FAULTS = [
    "status code=429", "status code=429 retry_after=1",
    "status code=500", "status code=502",
    "status code=503", "status code=503 retry_after=1",
    "status code=504",
]
# 500 ms is below every common client timeout; 6 s is above httpx's default 5 s and the
# 1-5 s most SDKs configure, still well below --timeout's default.
DELAY_FAULTS = ["delay ms=500", "delay ms=6000"]
CONNECTION_FAULTS = [f"{kind} when={when}" for kind in ("reset", "close")
                     for when in ("before_response", "after_headers", "mid_body")]
BODY_FAULTS = ["truncate", "bad_gzip", "throttle bytes_per_s=2000"]
# with --tls: HTTP/2 frames (the proxy offers h2) and the handshake itself
H2_FAULTS = [
    "goaway code=NO_ERROR", "goaway code=ENHANCE_YOUR_CALM",
    "rst_stream code=REFUSED_STREAM", "rst_stream code=INTERNAL_ERROR",
    "rst_stream code=CANCEL when=after_headers",
]
TLS_FAULTS = [
    "tls cert=untrusted", "tls cert=wrong_host", "tls cert=expired", "tls cert=self_signed",
    "tls handshake=alert alert=handshake_failure", "tls handshake=reset", "tls handshake=close",
    "tls handshake=plaintext",
]


def default_specs(tls: bool = False) -> list[str]:
    """The default suite: statuses with and without Retry-After, delays, a hang, reset and close
    at each phase, body faults; with ``tls`` also HTTP/2 frames and TLS faults. Refuse, blackhole
    and DNS faults are left out: they act on DNS answers, which the score proxy does not serve."""
    specs = STATUS_FAULTS + DELAY_FAULTS + ["hang"] + CONNECTION_FAULTS + BODY_FAULTS
    return specs + (H2_FAULTS + TLS_FAULTS if tls else [])


@dataclass(frozen=True)
class Entry:
    """One run's fault: ``label`` is the fault as given (the row's ``fault``), ``body`` and
    ``ctype`` the control endpoint's POST /rules request that makes it the only rule."""

    label: str
    body: str
    ctype: str
    kind: str
    params: dict
    level: str

    @property
    def retry_after_s(self) -> float | None:
        """The Retry-After (seconds) this fault's responses carry, if any."""
        v = self.params.get("retry_after") if self.kind == "status" else None
        try:
            return float(v) if v not in (None, "") else None
        except (TypeError, ValueError):
            return None  # an HTTP date: not timed here


def _checked(rule: planmod.Rule, where: str, tls: bool) -> None:
    level = rule.fault.level
    if level == "dns":
        raise SpecError(f"fault {rule.spec.kind!r} acts on DNS answers; faults score serves no DNS to CMD "
                        "(run the proxy's DNS mode by hand for it)", where)
    if level == "connection" and not tls:
        raise SpecError(f"fault {rule.spec.kind!r} acts on the TLS handshake: add --tls "
                        "(FAULTS_URL is https then)", where)


def from_spec(text: str, where: str, *, tls: bool = False, first: int | None = None) -> Entry:
    """One ``--faults`` value (the ``faults`` option's form)."""
    try:
        rule = planmod.rule_from_option(text, 0)
    except SpecError as e:
        raise SpecError(e.reason, where) from None
    _checked(rule, where, tls)
    body = text.strip()
    if first is not None and rule.first is None:
        body += f" first={first}"
    return Entry(text.strip(), body + "\n", "text/plain", rule.spec.kind, dict(rule.spec.params), rule.fault.level)


def from_mapping(raw: dict, where: str, *, tls: bool = False, first: int | None = None) -> Entry:
    """One rule of a ``--suite`` file, sent on as a one-rule YAML plan (JSON is YAML)."""
    rule = planmod.rule_from_mapping(raw, where)
    _checked(rule, where, tls)
    raw = dict(raw)
    if first is not None and raw.get("first") is None:
        raw["first"] = first
    label = raw.get("name") or (f"{raw['match']} -> " if raw.get("match") else "") + (
        raw["fault"] if isinstance(raw["fault"], str) else rule.spec.text)
    body = "rules:\n  - " + json.dumps(raw, default=str) + "\n"
    return Entry(str(label), body, "application/yaml", rule.spec.kind, dict(rule.spec.params), rule.fault.level)


def from_specs(specs: list[str], *, tls: bool = False, first: int | None = None,
               source: str = "--faults") -> list[Entry]:
    return [from_spec(s, f"{source} {s!r}", tls=tls, first=first) for s in specs]


def load(path: str | Path, *, tls: bool = False, first: int | None = None) -> list[Entry]:
    """A suite file: a YAML list of rules (or a plan with ``rules:``); every item is one run."""
    p = Path(path).expanduser()
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError(f"cannot read the suite: {getattr(e, 'strerror', None) or e}", str(p)) from None
    doc = planmod.parse_yaml(text, str(p))
    items = doc.get("rules") if isinstance(doc, dict) else doc
    if not isinstance(items, list) or not items:
        raise SpecError("a suite is a YAML list of faults (spec strings or rule mappings), or a plan "
                        "with 'rules:'; this one lists none", str(p))
    out = []
    for i, item in enumerate(items):
        where = f"{p}: item {i + 1}"
        try:
            where += f" (line {items.lc.item(i)[0] + 1})"
        except Exception:
            pass
        if isinstance(item, str):
            out.append(from_spec(item, where, tls=tls, first=first))
        elif isinstance(item, dict):
            out.append(from_mapping(dict(item), where, tls=tls, first=first))
        else:
            raise SpecError(f"expected a spec string or a rule mapping, got {item!r}", where)
    return out
