"""``faults score``: run the user's own client once per fault and tabulate what it did on the wire.

Rooms: ``suite`` (which faults), ``runner`` (one proxy, one run per fault), ``observe``
(the report records -> a row's wire fields), ``policy`` (the user's expectations -> verdict),
``output`` (terminal, JSON, JUnit, HTML, --baseline), ``cli`` (the subcommand).
From Python (and the pytest fixture ``fault_score``)::

    from faults.score import score
    result = score(["curl", "-sS", "--retry", "2", "$FAULTS_URL/"], faults=["status code=503"])
    result.rows[0]["attempts"]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

from faults.score import output, policy as policymod, suite
from faults.score.runner import Options, Session


class BaselineFailed(RuntimeError):
    """CMD fails with no fault: it is reported, not scored."""

    def __init__(self, row: dict, url: str):
        self.row, self.url = row, url
        why = "hung (killed)" if row["hung"] else f"exit {row['exit_code']}"
        tail = f": {row['stderr_tail'][-1]}" if row["stderr_tail"] else ""
        super().__init__(f"the command fails without any fault ({why}{tail}); fix that first, nothing was scored")


@dataclass
class Result:
    baseline: dict
    url: str  # the FAULTS_URL the target was given
    rows: list[dict] = field(default_factory=list)

    @property
    def failed(self) -> list[dict]:
        return [r for r in self.rows if r.get("verdict") == "fail"]


def score(target: Sequence[str] | Callable[[str], object], faults: Sequence[str] | None = None, *,
          entries: list[suite.Entry] | None = None, policy: "policymod.Policy | str | None" = None,
          options: Options | None = None, first: int | None = None, saved: dict | None = None,
          on_start: Callable[[int, str], None] | None = None,
          on_row: Callable[[int, dict], None] | None = None) -> Result:
    """Score ``target`` (a command, ``$FAULTS_URL`` in its arguments left to the shell, or a
    callable taking the URL) under ``faults`` (specs in the ``faults`` option's form; default:
    the default suite) or ready ``entries``. ``saved``: rows of an earlier run by fault, for
    ``changed``. Raises ``SpecError`` for bad input before any run, ``BaselineFailed`` when the
    target fails without a fault."""
    options = options or Options()
    if entries is None:
        entries = suite.from_specs(list(faults) if faults else suite.default_specs(options.tls),
                                   tls=options.tls, first=first)
    if isinstance(policy, str):
        policy = policymod.load(policy)
    with Session(options) as session:
        if on_start:
            on_start(0, "(baseline: no fault)")
        base = session.run(None, target)
        base.update(verdict=None, reasons=[], changed=None)
        if on_row:
            on_row(0, base)
        if base["hung"] or base["exit_code"] != 0:
            raise BaselineFailed(base, session.url)
        result = Result(base, session.url)
        for n, entry in enumerate(entries, 1):
            if on_start:
                on_start(n, entry.label)
            row = session.run(entry, target)
            if policy is not None:
                row["verdict"], row["reasons"] = policymod.judge(
                    row, policy.for_fault(entry.label, entry.kind), options.timeout)
            else:
                row["verdict"], row["reasons"] = None, []
            row["changed"] = output.changes(row, saved.get(entry.label)) if saved is not None else None
            result.rows.append(row)
            if on_row:
                on_row(n, row)
        return result
