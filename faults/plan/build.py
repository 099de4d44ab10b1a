"""Rules from the ways in, one grammar (``faults.spec``): an entry of the ``faults``
option (``[SEP filter SEP] spec``, like mitmproxy's ``block_list``, selection keys
inline: ``status code=503 probability=0.1``), the ``x-fault`` request header (a bare
spec for that request only), and a rule mapping of a YAML plan (``faults.plan.loader``)."""

from __future__ import annotations

from typing import Any

from faults import gates as gatesmod, kinds
from faults import spec as specmod
from faults.gates import Timing
from faults.plan import limits
from faults.plan.rule import Rule
from faults.spec import SpecError

RULE_KEYS = ("name", "match", "fault", "probability", "first", "every", "gates", "window", "requests", "max_active")
GATES = ("worker", "global")  # where first/every/probability count: per worker process, or across all


def short(text: str, limit: int = 120) -> str:
    """``text`` for an error message or a label: a huge entry is not echoed whole."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def rule_from_option(text: str, index: int, seed=None) -> Rule:
    """One entry of the ``faults`` option: ``[SEP filter SEP] spec``."""
    where = f"faults option entry {index} ({short(text)!r})"
    try:
        match, spec_text = _split_entry(text.strip())
        fault, inline = specmod.parse(spec_text, allow_selection=True)
        return Rule(match=match, spec=fault, where=where, seed=seed, **_selection(inline))
    except SpecError as e:
        raise e.at(where) from None


def _split_entry(text: str) -> tuple[str | None, str]:
    """(filter or None, spec) of an option entry: a first character that cannot start
    a kind name is the separator around the filter."""
    if not text:
        raise SpecError("empty entry")
    if text[0].isalnum() or text[0] == "_":
        return None, text
    sep, rest = text[0], text[1:]
    match, sep_found, spec_text = rest.partition(sep)
    if not sep_found:
        raise SpecError(f"expected {sep}filter{sep}fault-spec (separator {sep!r} appears once)")
    return match.strip() or None, spec_text


def rule_from_header(value: str) -> Rule:
    """The ``x-fault`` header: bounded before any parsing (a 1 MiB header costs
    one length check), UTF-8 only, and only faults that act on one request."""
    if len(value) > specmod.MAX_SPEC_CHARS:
        raise SpecError(f"{len(value)} characters long (the limit is {specmod.MAX_SPEC_CHARS})")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # mitmproxy decodes header bytes with surrogateescape
        raise SpecError("not UTF-8 text") from None
    kind = specmod.split_words(value)[0]
    cls = kinds.all_kinds().get(kind)
    if cls is not None and cls.level in ("connection", "dns"):
        what = "the DNS query" if cls.level == "dns" else "the connection"
        raise SpecError(f"fault {kind!r} acts on {what} (before any request exists), "
                        "not on one request: set it in the plan or the faults option")
    fault, _ = specmod.parse(value)
    return Rule(spec=fault, where="x-fault header")


def rule_from_mapping(raw: Any, where: str, seed=None) -> Rule:
    """One rule of a YAML plan: a mapping of ``RULE_KEYS``."""
    if not isinstance(raw, dict):
        raise SpecError(f"a rule must be a mapping with match/fault keys, got {type(raw).__name__}", where)
    unknown = [k for k in raw if k not in RULE_KEYS]
    if unknown:
        hints = "".join(specmod.did_you_mean(k, RULE_KEYS) for k in unknown[:1])
        raise SpecError(f"unknown rule key(s) {', '.join(map(repr, unknown))}{hints} "
                        f"(known: {', '.join(RULE_KEYS)})", where)
    try:
        spec = _fault(raw.get("fault"))
        match = raw.get("match")
        if match is not None and not isinstance(match, str):
            raise SpecError(f"match must be a flow filter string, got {match!r}")
        return Rule(match=match, spec=spec, where=where, seed=seed, **_selection(raw))
    except SpecError as e:
        raise e.at(where) from None


def _fault(fault: Any):
    """A rule's ``fault``: one fault, or a list of them (a stack: [delay ms=200, status code=503])."""
    if not isinstance(fault, list):
        return _one_fault(fault)
    if len(fault) > limits.MAX_STACK:
        raise SpecError(f"a fault list of {len(fault)} faults (the limit is {limits.MAX_STACK})")
    return specmod.stack([_one_fault(f) for f in fault])


def _one_fault(fault: Any):
    """A rule's ``fault`` (or one entry of its list): a spec string or a mapping with ``kind``."""
    if isinstance(fault, str):
        return specmod.parse(fault)[0]
    if isinstance(fault, dict):
        params = dict(fault)
        kind = params.pop("kind", None)
        if not kind:
            raise SpecError("fault mapping needs a 'kind' key")
        if not isinstance(kind, str):
            raise SpecError(f"kind={kind!r}: expected a fault kind name")
        return specmod.build(kind.lower(), params)
    raise SpecError("rule needs a 'fault': a spec string, a mapping with 'kind', or a list of those")


def _selection(raw: dict[str, Any]) -> dict[str, Any]:
    """Typed selection keys, as ``Rule``'s arguments. Strings come from the option form
    (``first=3``); YAML gives numbers. Types are exact: no bool, list or float for a count."""
    out: dict[str, Any] = {}
    if raw.get("name") is not None:
        out["name"] = _name(raw["name"])
    if raw.get("probability") is not None:
        out["probability"] = gatesmod.probability(raw["probability"])
    for key in ("first", "every", "max_active"):
        if raw.get(key) is not None:
            out[key] = gatesmod.count(raw[key], key)
    if raw.get("window") is not None:
        out["window"] = gatesmod.window(raw["window"])
    if raw.get("requests") is not None:
        out["requests"] = gatesmod.requests(raw["requests"])
    if raw.get("gates") is not None:
        out["gates"] = _gates(raw["gates"])
    # the time keys become one Timing (which may ramp the probability)
    out["timing"], out["probability"] = Timing.build(out)
    for key in ("window", "requests", "max_active"):
        out.pop(key, None)
    if out["probability"] is None:
        del out["probability"]
    return out


def _name(name: Any) -> str:
    if isinstance(name, bool) or not isinstance(name, (str, int)):
        raise SpecError(f"name={name!r}: expected a text")
    return str(name)


def _gates(g: Any) -> str:
    if g not in GATES:
        raise SpecError(f"gates={g!r}: expected one of {', '.join(GATES)} (where first/every/probability "
                        "count: per worker process, the default, or across all workers)")
    return g
