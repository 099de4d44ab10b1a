"""Client profiles: one module per client, each a function from a client-neutral
``Outcome`` to what that client reports (a ``ClientReport``), or None where the
profile does not speak that protocol or has no measured answer.

A profile module has ``NAME`` and ``report(outcome)``. Adding a client is one
module here plus its end-to-end table against the real client (docs/creating-kinds.md).
"""

from __future__ import annotations

from faults.classify.clients import aiohttp, curl, grpcio, httpx, java, k6, node, python, requests
from faults.classify.outcome import ClientReport, Outcome

PROFILES = (k6, curl, httpx, python, grpcio, node, requests, aiohttp, java)  # k6 first: the annotation is k6's


def report_all(outcome: Outcome) -> dict[str, ClientReport]:
    out = {}
    for profile in PROFILES:
        r = profile.report(outcome)
        if r is not None:
            out[profile.NAME] = r
    return out
