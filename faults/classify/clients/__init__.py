"""Client profiles: one module per client, each a function from a client-neutral
``Outcome`` to what that client reports (a ``ClientReport``), or None where the
profile does not speak that protocol or has no measured answer.

A profile module has ``NAME`` and ``report(outcome)``. Adding a client is one
module here plus its end-to-end table against the real client (docs/creating-kinds.md).
"""

from __future__ import annotations

import difflib

from faults.classify.clients import aiohttp, aioquic, chromium, curl, grpcio, httpx, java, k6, node, python, requests
from faults.classify.outcome import ClientReport, Outcome

PROFILES = (k6, curl, httpx, python, grpcio, node, requests, aiohttp, java, chromium)  # k6 first: the annotation is k6's
# the profiles that speak HTTP/3 (chromium when forced onto QUIC); the others (k6, Node, Java,
# requests, httpx, ...) have no HTTP/3
# client: they stay on TCP, so an HTTP/3 flow never comes from them
H3_PROFILES = (curl, aioquic, chromium)


NAMES = tuple(p.NAME for p in PROFILES)  # option fault_clients chooses among them (Classifier.shown)


def choose(names) -> tuple[str, ...]:
    """Validate a selection of profile names (empty: all); ValueError with a did-you-mean."""
    for n in names:
        if n not in NAMES:
            close = difflib.get_close_matches(n, NAMES, n=1, cutoff=0.5)
            hint = f"did you mean {close[0]}?" if close else "profiles: " + ", ".join(NAMES)
            raise ValueError(f"unknown client profile {n!r}: {hint}")
    return tuple(names) or NAMES


def k6_without_h3(entry: str) -> ClientReport:
    """k6's report for an HTTP/3 outcome: none (the annotation's id is the outcome's entry)."""
    return ClientReport("k6", None, "k6 does not speak HTTP/3: its requests stay on TCP", certainty="n/a", entry=entry)


def report_all(outcome: Outcome) -> dict[str, ClientReport]:
    out = {}
    if outcome.h3:
        out["k6"] = k6_without_h3(outcome.entry)
        for profile in H3_PROFILES:
            r = profile.report(outcome)
            if r is not None:
                out[profile.NAME] = r
        return out
    for profile in PROFILES:
        r = profile.report(outcome)
        if r is not None:
            out[profile.NAME] = r
    return out
