"""YAML plans: a plan file or text -> a ``Plan``; every error is one line that names
the file, the rule (counted from 1) and its line, never a traceback::

    seed: 42
    rules:
      - name: flaky-api
        match: "~d api.test & ~pa /v1/"
        fault: status code=503 retry_after=2      # or a mapping {kind: status, code: 503}
        probability: 0.1                          # optional: first: N, every: N
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from faults import numbers
from faults import spec as specmod
from faults.plan import limits
from faults.plan.build import rule_from_mapping
from faults.plan.selection import Plan
from faults.spec import SpecError

TOP_KEYS = ("seed", "rules")


def load_file(path: str | Path) -> Plan:
    """Read and parse a plan file; any failure (missing, a directory,
    unreadable, too big, not UTF-8, bad content) is a ``SpecError``."""
    p = Path(path).expanduser()
    try:
        with p.open("rb") as fh:
            data = fh.read(limits.MAX_PLAN_BYTES + 1)  # one byte past the limit: enough to refuse
    except (OSError, ValueError) as e:  # ValueError: e.g. a NUL byte in the path
        raise SpecError(f"cannot read fault plan: {getattr(e, 'strerror', None) or e}", str(p)) from None
    if len(data) > limits.MAX_PLAN_BYTES:
        raise SpecError(f"fault plan is larger than {limits.MAX_PLAN_BYTES // 1024 // 1024} MiB (the limit)", str(p))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SpecError(f"fault plan is not UTF-8 text (byte {e.start})", str(p)) from None
    return load_yaml(text, str(p))


def load_yaml(text: str, source: str) -> Plan:
    """Parse a YAML plan; every error names the file, rule index and line."""
    doc = parse_yaml(text, source)
    if doc is None:
        return Plan()
    seed, rules_raw = _top_level(doc, source)
    rules = []
    for i, raw in enumerate(rules_raw):
        where = _where(rules_raw, i, source)
        try:
            rules.append(rule_from_mapping(raw, where, seed))
        except SpecError:
            raise
        except Exception as e:  # a value no check foresaw: still one line, never a traceback
            raise SpecError(f"unusable value: {e!r}", where) from None
    return Plan(rules, seed).warm()


def _top_level(doc: Any, source: str) -> tuple[Any, list]:
    """(seed, rules) of a plan document: a mapping of ``TOP_KEYS``, or a bare list of rules."""
    if isinstance(doc, list):
        doc = {"rules": doc}
    if not isinstance(doc, dict):
        raise SpecError("a plan is a mapping with 'rules' (and optional 'seed') or a list of rules", source)
    unknown = [k for k in doc if k not in TOP_KEYS]
    if unknown:
        raise SpecError(f"unknown top-level key(s) {', '.join(map(repr, unknown))}"
                        f"{specmod.did_you_mean(unknown[0], TOP_KEYS)} (known: seed, rules)", source)
    seed = _seed(doc.get("seed"), source)
    rules_raw = doc.get("rules") or []
    if not isinstance(rules_raw, list):
        raise SpecError("'rules' must be a list", source)
    if len(rules_raw) > limits.MAX_RULES:
        raise SpecError(f"{len(rules_raw)} rules (the limit is {limits.MAX_RULES})", source)
    return seed, rules_raw


def _seed(value: Any, where: str):
    """A plan seed is a whole number or a text (it seeds each rule's RNG)."""
    if value is None or (isinstance(value, (str, int)) and not isinstance(value, bool)):
        return value if not isinstance(value, int) else int(value)
    raise SpecError(f"seed={value!r}: expected a whole number or a text", where)


def _where(rules_raw: list, i: int, source: str) -> str:
    """Rule ``i`` of ``source`` for an error: counted from 1, like lines, and its line."""
    try:
        line = rules_raw.lc.item(i)[0] + 1  # ruamel's round-trip nodes keep their line
    except Exception:
        line = None
    return f"{source}: rule {i + 1}" + (f" (line {line})" if line else "")


def parse_yaml(text: str, source: str):
    """YAML text -> its document (round-trip nodes, aliases refused); every error is a
    one-line ``SpecError`` naming ``source`` and the line."""
    from ruamel.yaml.error import YAMLError

    if len(text) > limits.MAX_PLAN_BYTES:
        raise SpecError(f"plan is larger than {limits.MAX_PLAN_BYTES // 1024 // 1024} MiB (the limit)", source)
    try:
        doc = _yaml().load(io.StringIO(text))
    except SpecError as e:
        raise e.at(source) from None
    except YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise SpecError(f"invalid YAML{line}: {getattr(e, 'problem', None) or e}", source) from None
    except RecursionError:
        raise SpecError("invalid YAML: nested too deeply", source) from None
    return doc


def _yaml():
    """A round-trip loader (for line numbers) that refuses aliases: ``*name``
    shares a node, and a few lines of nested aliases expand to gigabytes the
    moment anything walks them (the billion laughs)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.composer import Composer
    from ruamel.yaml.events import AliasEvent

    class NoAliases(Composer):
        def compose_node(self, parent, index):
            if self.parser.check_event(AliasEvent):
                ev = self.parser.peek_event()
                raise SpecError(f"line {ev.start_mark.line + 1}: YAML alias *{ev.anchor} refused "
                                "(aliases can expand without bound; repeat the value instead)")
            return super().compose_node(parent, index)

    yaml = YAML(typ="rt")
    yaml.Composer = NoAliases
    yaml.Constructor = numbers.yaml_int_guard(yaml.Constructor)  # 5,000 digits: one line, not int()'s error
    return yaml
