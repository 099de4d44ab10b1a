"""The control endpoint's ``/expect`` and ``/flows``: the report records of the flows since
the runtime rules last changed, kept in memory while the endpoint is on, and the pytest
fixture's expectation (``faults.expect``) over them. ``FaultControl`` routes to it.

An ``/expect`` not met yet is answered later: ``answer`` returns a ``Pending``; the control
sets a placeholder response at once (so no fault and no upstream touch the request),
intercepts the flow, and ``defer`` fills the answer in when met or at the deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

from mitmproxy import ctx, http

from faults import expect as expectmod

KEPT_RECORDS = 10_000  # the newest report records kept for /expect
POLL_S = 0.1
STABLE_S = 0.2  # with count=N: no new record for this long before saying "met" (as the fixture)


class Pending:
    """An /expect answer still to come."""

    def __init__(self, exp: expectmod.Expectation, deadline: float):
        self.exp, self.deadline = exp, deadline


class Expectations:
    def __init__(self, classifier=None):
        self.classifier = classifier  # whose report records it keeps (None: none)
        self.records: deque[dict] = deque(maxlen=KEPT_RECORDS)
        self.last_record_at = 0.0
        self._listening = None
        self._tasks: set[asyncio.Task] = set()

    # -- the records -------------------------------------------------------------
    def listen(self) -> None:
        """Keep report records while ``fault_control`` is on (the classifier builds them only then)."""
        classifier = self.classifier
        if classifier is None:
            return
        on = bool(ctx.options.fault_control)
        if on and self._listening is None:
            self._listening = classifier
            classifier.record_listeners.append(self.keep)
        elif not on and self._listening is not None:
            if self.keep in self._listening.record_listeners:
                self._listening.record_listeners.remove(self.keep)
            self._listening = None
            self.records.clear()

    def keep(self, rec: dict) -> None:
        self.records.append(rec)
        self.last_record_at = time.monotonic()

    def clear(self) -> None:
        self.records.clear()

    def carry(self, old: "Expectations") -> None:
        """A script reload: the records the replaced addon kept (flows before the reload) count."""
        self.records.extend(old.records)
        self.last_record_at = old.last_record_at

    def stop(self) -> None:
        for t in list(self._tasks):
            t.cancel()

    # -- /expect -------------------------------------------------------------------
    def answer(self, query: dict[str, str]) -> tuple[int, dict | Pending]:
        try:
            exp, timeout = expectmod.from_query(query)
        except ValueError as e:
            return 400, {"error": f"/expect: {e}", "parameters": list(expectmod.PARAMS)}
        if self._met(exp) or timeout <= 0:
            return self.final(exp)
        return 200, Pending(exp, time.monotonic() + timeout)

    def _met(self, exp: expectmod.Expectation) -> bool:
        settled = exp.count is None or time.monotonic() - self.last_record_at >= STABLE_S
        return settled and exp.met(len(expectmod.hits(exp, list(self.records))))

    def final(self, exp: expectmod.Expectation) -> tuple[int, dict]:
        recs = list(self.records)
        found = expectmod.hits(exp, recs)
        body = {"ok": exp.met(len(found)), "expected": exp.criteria(), "count": exp.wanted(), "matched": len(found),
                "flows": [expectmod.summary(r, exp.client) for r in found]}
        if body["ok"]:
            return 200, body
        body["explanation"] = expectmod.explain(exp, recs, caller="expect", scope="the flows since the rules changed")
        return 417, body

    def defer(self, flow: http.HTTPFlow, pending: Pending, respond) -> None:
        """Hold ``flow`` until the expectation is met or its deadline; then ``respond(status, body)``."""
        flow.intercept()
        task = asyncio.get_running_loop().create_task(self._wait(flow, pending, respond))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _wait(self, flow: http.HTTPFlow, pending: Pending, respond) -> None:
        try:
            while not self._met(pending.exp) and time.monotonic() < pending.deadline:
                await asyncio.sleep(POLL_S)
            flow.response = respond(*self.final(pending.exp))
        finally:
            flow.resume()
