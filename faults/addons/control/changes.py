"""The runtime rules as a log of changes, applied here and fanned out to sibling workers.

A change is a message: ``{"op": "set"|"add"|"clear", "specs": [...]}`` (option-style
rules), ``{"yaml": "<plan>"}`` or ``{"load": "<path>"}`` instead of specs, and a
``seq``; or ``{"op": "t0", "t0": ...}`` (the run's clock). It is applied here, then
sent to every sibling worker (``faults.fanout``), which applies the same message:
same rules, same seeds, same global-gate counts. ``seq`` numbers changes across
workers (the shared counter). The runtime rules are the newest set/clear plus every
addition numbered after it, in seq order, so two changes sent at once through two
workers end the same on every worker, whatever order each worker saw them in (a
change older than the set/clear in force is moot).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from mitmproxy import ctx, exceptions

from faults import numbers, plan as planmod, worker
from faults.addons.control.rules import rules_of
from faults.gates import clock
from faults.spec import SpecError

log = logging.getLogger(__name__)
T0_MAX_AGE_S = 30 * 86400


class Changes:
    """The injector's ``runtime_plan`` (tried before the ``faults`` option and the plan
    file), kept as changes: the newest replace (set/clear; its seq and rules) and the
    additions numbered after it, in seq order."""

    def __init__(self, injector=None, workers=None, on_rules: Callable[[], None] = lambda: None):
        self.injector, self.workers = injector, workers  # None: not loaded (tests build parts alone)
        self.on_rules = on_rules  # called whenever the runtime rules changed
        self._base: tuple[int, list] = (0, [])
        self._adds: list[tuple[int, list]] = []

    def injector_or_refuse(self):
        inj = self.injector
        if inj is None:
            raise exceptions.CommandError("the fault injector addon is not loaded")
        return inj

    @staticmethod
    def seed():
        return ctx.options.fault_seed

    @staticmethod
    def stamped(msg: dict) -> dict:
        """The message numbered in the sequence every worker shares."""
        return {**msg, "seq": worker.counter().next("runtime changes")}

    def apply(self, msg: dict, rules: list[planmod.Rule] | None = None) -> None:
        """Apply one change message (raises SpecError for a bad one); ``rules``: the
        message's rules when the caller built them already."""
        seed, op = self.seed(), msg["op"]
        if op == "t0":  # the run's clock, set by a sibling (which wrote the shared t0 file)
            clock.set(msg["t0"], shared=False)
            return
        seq = msg.get("seq", 0)
        if seq and seq < self._base[0]:
            log.info(f"runtime fault change {seq} skipped: the rules were replaced by change {self._base[0]} since")
            return
        if rules is None:
            rules = rules_of(msg, seed)
        self._replace(rules, append=op == "add", seq=seq)

    def _replace(self, rules: list[planmod.Rule], append: bool = False, seq: int = 0) -> None:
        inj = self.injector_or_refuse()
        for rule in rules:  # a global gate counts afresh for every change (faults.counter)
            rule.epoch = f"runtime:{seq}"
        if append:
            self._adds = sorted(self._adds + [(seq, rules)], key=lambda a: a[0])
        else:
            self._base, self._adds = (seq, rules), [a for a in self._adds if a[0] > seq]
        new = self._base[1] + [r for _, added in self._adds for r in added]
        inj.set_runtime_plan(planmod.Plan(new, self.seed()))
        self.on_rules()
        log.info(f"runtime fault rules: {len(new)} ({'added' if append else 'set'} {len(rules)})")

    def carry(self, old: "Changes") -> None:
        """A script reload: the replaced addon's runtime rules are this one's, the same rules
        in the same plan (their gate counts go on); else they would end with it, silently."""
        self._base, self._adds = old._base, old._adds
        plan = old.injector_or_refuse().runtime_plan
        if plan.rules:
            self.injector_or_refuse().set_runtime_plan(plan)
            log.info(f"runtime fault rules: {len(plan.rules)} kept across the script reload")

    def command(self, msg: dict) -> None:
        """A command's change: here at once, siblings within milliseconds (a
        command cannot wait; the control endpoint does)."""
        msg = self.stamped(msg)
        try:
            self.apply(msg)
        except SpecError as e:
            raise exceptions.CommandError(str(e)) from None
        self.fan_out_soon(msg)

    def set_t0(self, t0: float | None) -> dict:
        """Here and in the shared file at once; the change message for sibling workers."""
        clock.set(t0)
        msg = {"op": "t0", "t0": t0}
        self.fan_out_soon(msg)
        return msg

    # -- the fan-out to sibling workers ---------------------------------------------
    def fans_out(self) -> bool:
        """There are sibling workers (``faults proxy --workers N``) to send changes to."""
        return self.workers is not None and bool(ctx.options.fault_worker_dir)

    def fan_out_soon(self, msg: dict) -> None:
        if self.fans_out():
            asyncio.get_running_loop().create_task(self.fan_out(msg))

    async def fan_out(self, msg: dict) -> list[str]:
        """Send the change to every sibling worker; the errors of those that did not apply it."""
        errors = await self.workers.broadcast(msg)
        for e in errors:
            log.error(f"fault control: a sibling worker did not apply the change: {e}")
        return errors


def t0_of(text: str) -> float | None:
    """The run's t0 as unix time from "SECONDS" (the run's age now; empty: now), or
    None for "next" (the next request sets it); ValueError naming what is expected."""
    text = text.strip().lower()
    if text == "next":
        return None
    try:  # SECONDS, the run's age now: faults.numbers' rules (ASCII digits, bounded)
        ago = numbers.real(text or "0", "t0", 0, T0_MAX_AGE_S)
    except SpecError as e:
        raise ValueError(f"{e}: expected SECONDS from 0 to {T0_MAX_AGE_S} (the run's age now) or next") from None
    return time.time() - ago
