"""Client profiles: one module per client, each a function from a client-neutral
``Outcome`` to what that client reports (a ``ClientReport``), or None where the
profile does not speak that protocol or has no measured answer.

A profile module has ``NAME`` and ``report(outcome)``. Adding a client is one
module here plus its end-to-end table against the real client (docs/creating-kinds.md).
"""

from __future__ import annotations

import difflib

from faults.classify.clients import aiohttp, aioquic, chromium, curl, grpcio, httpx, java, k6, node, python, requests
from faults.classify.outcome import ClientReport, Event, Outcome

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


OWN_TIMEOUT_RACE = ("the client's own timeout may have fired first: it cancels a held stream, and that cancel "
                    "can reach the proxy after another request's fault ended the connection (in flight, or k6 "
                    "writing it after its next request), so the proxy cannot tell which of the two the client saw")


def own_timeout_race(profile, outcome: Outcome, r: ClientReport) -> ClientReport:
    """A held stream a sibling's fault cut (``Outcome.held_cut_by_sibling``): the report
    names also what this client says when its own timeout came first (``uncertain``)."""
    gave_up = profile.report(Outcome(Event.CLIENT_GAVE_UP, "client.timeout.request", facts=outcome.facts))
    if gave_up is None or r.retried:  # a re-sent stream: its note says what the retry meets
        return r
    named = [(r.error, r.message)] + [(a["error"], a["message"]) for a in r.alt]
    added = [(gave_up.error, gave_up.message)] + [(a["error"], a["message"]) for a in gave_up.alt]
    added = [e for i, e in enumerate(added) if e not in named and e not in added[:i]]
    for error, message in added:
        r.also(error, message)
    if added:
        r.note = (r.note + "; " if r.note else "") + OWN_TIMEOUT_RACE
    return r


def report_all(outcome: Outcome) -> dict[str, ClientReport]:
    out = {}
    profiles = PROFILES
    if outcome.h3:
        out["k6"] = k6_without_h3(outcome.entry)
        profiles = H3_PROFILES
    race = outcome.held_cut_by_sibling
    for profile in profiles:
        r = profile.report(outcome)
        if r is not None:
            out[profile.NAME] = own_timeout_race(profile, outcome, r) if race else r
    return out
