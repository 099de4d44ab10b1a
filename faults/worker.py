"""This process's place among ``faults proxy --workers N`` workers.

One mitmdump is one worker: its id (option ``fault_worker``, ``""`` when it
runs alone) is process-wide state, set once at start by
``faults.addons.workers``. Three things read it:

- the report: every record carries ``"worker"`` (``faults.report.records._base``);
- rule seeds: a rule's RNG is seeded from the plan seed, the worker id and
  the rule's identity (``derive_seed``), so for the same seed and N every
  worker draws its own reproducible sequence, and a lone proxy (id ``""``)
  draws exactly what it drew before workers existed;
- global gates (``gates: global``): counted in ``counter()``, a
  ``faults.counter.SharedCounter`` file all workers lock, or, alone, an
  in-process ``LocalCounter``.
"""

from __future__ import annotations

from faults.counter import LocalCounter

_id = ""
_counter = LocalCounter()


def current() -> str:
    """This process's worker id; ``""``: not one of several workers."""
    return _id


def set_current(worker_id: str, counter=None) -> None:
    global _id, _counter
    _id = worker_id
    _counter = counter if counter is not None else LocalCounter()


def counter():
    """Where global gates count (shared between workers when there are several)."""
    return _counter


def derive_seed(seed, identity: str, worker_id: str | None = None) -> str:
    """The text that seeds one rule's RNG. Alone (``""``) it is what it always
    was (``SEED|IDENTITY``); worker ``W`` gets ``SEED|worker=W|IDENTITY``."""
    w = current() if worker_id is None else worker_id
    return f"{seed}|{identity}" if not w else f"{seed}|worker={w}|{identity}"
