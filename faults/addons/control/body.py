"""What a control request carries: the rules in its body, and its query.

Bodies: ``text/plain`` one ``/filter/spec`` per line; ``application/yaml`` a plan
(``seed:``/``rules:``); ``application/json`` ``{"faults": [...]}``,
``{"plan": "<yaml>"}`` or a list of strings. A malformed body is a SpecError
naming what is wrong (numbers: ``faults.numbers``).
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs

from mitmproxy import http

from faults import numbers, plan as planmod
from faults.plan import limits
from faults.addons.control.rules import build_plan, build_rules
from faults.spec import SpecError

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")


def looks_like_yaml_plan(text: str) -> bool:
    stripped = text.lstrip()
    return stripped.startswith(("seed:", "rules:", "- ", "-\n", "{", "---"))


def query(req: http.Request) -> dict[str, str]:
    """The query string's parameters, the last of each name."""
    return {k: v[-1] for k, v in parse_qs(req.path.partition("?")[2]).items()}


def appends(q: dict[str, str]) -> bool:
    """``?append=1``: add to the runtime rules instead of replacing them."""
    return q.get("append", "").lower() in ("1", "true", "yes")


def parse_body(req: http.Request, seed=None) -> tuple[dict, list[planmod.Rule]]:
    """The body's rules, and their source for a change message: ``{"specs": [...]}``
    or ``{"yaml": text}`` (a SpecError names what is wrong). Reads no option and no
    addon: it runs in a thread for big rule sets."""
    ctype = req.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = req.raw_content or b""
    if len(raw) > limits.MAX_PLAN_BYTES:
        raise SpecError(f"request body is larger than {limits.MAX_PLAN_BYTES // 1024 // 1024} MiB (the limit)")
    if req.headers.get("content-encoding", "identity").strip().lower() != "identity":
        raise SpecError("compressed request bodies are not accepted (a small body expands without bound)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError("request body is not UTF-8") from None
    source = "control request"
    if ctype == "application/json":
        return _json_rules(text, source, seed)
    if ctype in YAML_TYPES or (looks_like_yaml_plan(text) and not text.lstrip().startswith("{")):
        return {"yaml": text}, build_plan(text, source, seed)
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise SpecError("empty body: expected one '/filter/spec' per line (use DELETE /rules to clear)", source)
    return {"specs": lines}, build_rules(lines, seed)


def _json_rules(text: str, source: str, seed) -> tuple[dict, list[planmod.Rule]]:
    try:
        doc = numbers.json_loads(text or "null")  # integers bounded (faults.numbers)
    except json.JSONDecodeError as e:
        raise SpecError(f"invalid JSON: {e}", source) from None
    except RecursionError:
        raise SpecError("invalid JSON: nested too deeply", source) from None
    if isinstance(doc, dict):
        unknown = [k for k in doc if k not in ("faults", "plan")]
        if unknown:
            raise SpecError(f"unknown key(s) {', '.join(numbers.shown(k) for k in unknown[:5])} "
                            "(known: faults, plan)", source)
        if "plan" in doc:
            if not isinstance(doc["plan"], str):
                raise SpecError("'plan' must be the YAML plan as a string", source)
            return {"yaml": doc["plan"]}, build_plan(doc["plan"], source, seed)
        doc = doc.get("faults")
    if not isinstance(doc, list) or not all(isinstance(s, str) for s in doc):
        raise SpecError('expected {"faults": ["/filter/spec", ...]}, {"plan": "<yaml>"} '
                        "or a list of strings", source)
    return {"specs": doc}, build_rules(doc, seed)
