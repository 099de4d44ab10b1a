"""The fault plan: ordered rules, each a mitmproxy flow filter plus a fault.

Three ways in, one grammar (``faults.spec``): a YAML file (option ``fault_plan``,
``loader``), the ``faults`` option and the ``x-fault`` request header (``build``).
Rules are tried in order; the first that applies wins (``selection``). One module a job:

- ``rule``: one rule: its filter, fault, gates and seeded RNG;
- ``selection``: ``Plan``, the ordered rules and which one applies to a flow;
- ``filters``: the flow filters a rule may use (``~d`` also matching the client's name);
- ``host_index``, ``url_index``: skip, unseen, the rules a flow's host or URL rules out;
- ``build``: rules from an option entry, the header or a YAML mapping;
- ``loader``: YAML plan files and text, errors naming the file, rule and line;
- ``limits``: the stated limits.

Everything is importable from ``faults.plan`` as before the split."""

from faults.errors import SpecError
from faults.plan.build import GATES, RULE_KEYS, rule_from_header, rule_from_mapping, rule_from_option, short
from faults.plan.filters import (
    BODY_FILTERS, NEVER_FILTERS, RESPONSE_FILTERS, ClientDomain, client_host, parse_filter, response_filter,
)
from faults.plan.host_index import domain_gate, host_key, may_select_host
from faults.plan.limits import HOST_MEMO_MAX, MAX_MATCH_CHARS, MAX_PLAN_BYTES, MAX_RULES, MAX_STACK
from faults.plan.loader import load_file, load_yaml, parse_yaml
from faults.plan.rule import Rule, generation
from faults.plan.selection import Plan
from faults.plan.url_index import GRAM, URL_INDEX_MIN, UrlIndex, url_literal
from faults.spec import FaultSpec

__all__ = [
    "BODY_FILTERS", "GATES", "GRAM", "HOST_MEMO_MAX", "MAX_MATCH_CHARS", "MAX_PLAN_BYTES", "MAX_RULES", "MAX_STACK",
    "NEVER_FILTERS", "RESPONSE_FILTERS", "RULE_KEYS", "URL_INDEX_MIN", "ClientDomain", "FaultSpec", "Plan",
    "Rule", "SpecError", "UrlIndex", "client_host", "domain_gate", "generation", "host_key", "load_file",
    "load_yaml", "may_select_host", "parse_filter", "parse_yaml", "response_filter", "rule_from_header",
    "rule_from_mapping", "rule_from_option", "short", "url_literal",
]
