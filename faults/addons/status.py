"""Observability: a live status line, a summary at shutdown, an annotated HAR.

- Live line on stderr (mitmdump only; option ``fault_status``, on by default):
  ``faults: 120 flows, 14 faulted | k6 codes: 0 x106, 1503 x9, 1220 x5``, at most once a
  second and only when something changed. On a terminal it rewrites one line;
  otherwise (a log, a CI job) it prints a plain line.
- At shutdown (``done``) a summary table by rule and by k6 code (option
  ``fault_summary``, on by default).
- ``fault_har``: write a HAR file at shutdown whose entries carry the
  annotations (``comment`` = the flow comment, ``_fault``, ``_k6_error_code``,
  ``_k6_error``). mitmproxy's own ``hardump`` does not carry them. For a
  mitmproxy flow file use mitmproxy's own ``save_stream_file``: flows are
  written after this addon's classifier ran, so ``flow.metadata``,
  ``flow.comment`` and ``flow.marked`` are in the file (``mitmweb -r FILE``
  shows them).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from mitmproxy import ctx, http

from faults import worker
from faults.addons import succession
from faults.addons.annotate import FAULT_KEY
from faults.addons.headers import is_connect
from faults.wire import servers

log = logging.getLogger(__name__)
INTERVAL = 1.0
MAX_SPECS_PER_RULE = 50
CONTROL_KEY = "fault_control"


def har_path(path: str) -> str:
    """With several workers each writes its own HAR: ``flows.har`` -> ``flows.worker1.har``
    (one file written whole by each worker at its shutdown; one shared file would keep only
    the last worker's)."""
    if not worker.current() or not getattr(ctx.options, "fault_worker_dir", ""):
        return path
    p = Path(path)
    return str(p.with_name(f"{p.stem}.worker{worker.current()}{p.suffix}"))


class FaultStatus:
    name = "faultstatus"

    def __init__(self, stream=None, classifier=None):
        self.stream = stream
        self.classifier = classifier  # whose report files it counts the dropped records of
        self.flows = 0
        self.faulted = 0
        self.codes: Counter = Counter()
        # keyed by (rule, spec): one rule label can carry many specs (every
        # x-fault header flow is the rule "x-fault header"; a reloaded rule may change)
        self.by_rule: dict[tuple[str, str], Counter] = defaultdict(Counter)
        self._specs_of: Counter = Counter()
        self.messages: dict = {}
        self._last = 0.0
        self._shown: tuple | None = None
        self._har: list[http.HTTPFlow] = []
        self._har_on = False  # option fault_har set: read at configure, not per flow
        self._seen: set[str] = set()
        self._tty_line = False
        self._reports: list = []  # every fault_report file of this run, for the dropped count

    def load(self, loader):
        self._take_over()
        loader.add_option("fault_status", bool, True,
                          "Show a live one-line fault status on stderr in mitmdump (at most once a second).")
        loader.add_option("fault_summary", bool, True,
                          "Print a summary table by rule and by k6 error code on stderr at shutdown.")
        loader.add_option("fault_har", str, "",
                          "Write a HAR file with every flow and its fault annotations (comment, _fault, "
                          "_k6_error_code, _k6_error) at shutdown. Keeps flows in memory.")

    def _take_over(self) -> None:
        """A script reload goes on counting where the replaced addon stopped: the summary and
        the HAR at the exit are the whole run's, not the part since the last reload."""
        old = succession.take_over(self)
        if old is None:
            return
        for attr in ("flows", "faulted", "codes", "by_rule", "_specs_of", "messages", "_har", "_seen", "_reports"):
            setattr(self, attr, getattr(old, attr))

    def configure(self, updated):
        if "fault_har" in updated:
            self._har_on = bool(ctx.options.fault_har)
        if "fault_report" in updated:  # the classifier (configured before us) opened it
            report = getattr(self.classifier, "report", None)
            if report is not None and report not in self._reports:
                self._reports.append(report)

    @property
    def dropped(self) -> int:
        """Report records lost to write errors (a full disk), all files of this run."""
        return sum(r.dropped for r in self._reports)

    @property
    def _out(self):
        return self.stream or sys.stderr

    def _is_dump(self) -> bool:
        return type(ctx.master).__name__ == "DumpMaster"

    # -- counting: the classifier calls count once it annotated a flow ----------
    def count(self, flow: http.HTTPFlow):
        md = flow.metadata
        if "k6_error_code" not in md or md.get(CONTROL_KEY) or flow.id in self._seen or is_connect(flow):
            return
        self._seen.add(flow.id)
        if len(self._seen) > 100_000:
            self._seen.clear()
        code = md["k6_error_code"]
        if code is None:  # k6 has no error_code for it: a WebSocket session, or an HTTP/3 flow
            code = "h3" if flow.request.http_version == "HTTP/3" else "ws"
        self.flows += 1
        self.codes[code] += 1
        if code not in self.messages:
            self.messages[code] = md.get("k6_error") or ""
        fault = md.get(FAULT_KEY)
        key = ("(no fault)", "-")
        if fault:
            self.faulted += 1
            key = self._row(fault.get("rule") or "?", fault.get("spec") or "")
        self.by_rule[key][code] += 1
        if self._har_on:
            self._har.append(flow)
        self.tick()

    def _row(self, rule: str, spec: str) -> tuple[str, str]:
        """The summary row of a flow; past MAX_SPECS_PER_RULE specs for one rule
        (clients choose header specs) the rest share one row, so memory stays bounded."""
        key = (rule, spec)
        if key not in self.by_rule:
            if self._specs_of[rule] >= MAX_SPECS_PER_RULE:
                return rule, "(other specs)"
            self._specs_of[rule] += 1
        return key

    # -- live line -------------------------------------------------------------
    def line(self) -> str:
        top = ", ".join(f"{c} x{n}" for c, n in self.codes.most_common(4))  # "0x146" would read as hex
        return f"faults: {self.flows} flows, {self.faulted} faulted | k6 codes: {top or '-'}"

    def tick(self, now: float | None = None, force: bool = False):
        now = time.monotonic() if now is None else now
        if not force and now - self._last < INTERVAL:  # first: the cheap check, once per flow
            return
        if not (ctx.options.fault_status and (self.stream or self._is_dump())):
            self._last = now  # off (or not mitmdump): asked again in a second, not per flow
            return
        state = (self.flows, self.faulted)
        if state == self._shown:
            return
        self._last, self._shown = now, state
        out = self._out
        if getattr(out, "isatty", lambda: False)():
            out.write("\r\x1b[K" + self.line())
            self._tty_line = True
        else:
            out.write(self.line() + "\n")
        out.flush()

    def running(self):
        import asyncio

        async def refresh():  # show the last counts even when traffic stops
            while True:
                await asyncio.sleep(INTERVAL)
                self.tick()

        self._task = asyncio.get_running_loop().create_task(refresh())

    # -- shutdown ------------------------------------------------------------
    def summary(self) -> str:
        rows = [("rule", "fault", "flows", "k6 codes")]
        for (rule, spec), codes in sorted(self.by_rule.items(), key=lambda kv: (kv[0][0] == "(no fault)", kv[0])):
            rows.append((rule, spec, str(sum(codes.values())),
                         " ".join(f"{c}x{n}" for c, n in codes.most_common())))
        table1 = _table(rows)
        rows = [("k6 code", "flows", "k6 error")]
        for code, n in sorted(self.codes.items(), key=lambda kv: (-kv[1], str(kv[0]))):
            rows.append((str(code), str(n), self.messages.get(code) or "-"))
        table2 = _table(rows)
        lost = (f"fault_report: {self.dropped} record(s) dropped (write errors, e.g. a full disk)\n"
                if self.dropped else "")
        who = f" (worker {worker.current()}; the report holds every worker's flows)" if worker.current() else ""
        return (f"fault summary: {self.flows} flows, {self.faulted} faulted{who}\n{lost}\nby rule:\n{table1}\n\n"
                f"by k6 error code:\n{table2}\n")

    def done(self):
        task = getattr(self, "_task", None)
        if task:
            task.cancel()
        if not servers.exiting():  # a script reload: the new addon counts on and ends the run (load)
            return
        if self._tty_line:
            self._out.write("\n")
        if ctx.options.fault_summary and (self.stream or self._is_dump()) and self.flows:
            self._out.write("\n" + self.summary())
            self._out.flush()
        if ctx.options.fault_har:
            write_har(self._har, har_path(ctx.options.fault_har))

    def __repr__(self):
        return f"<FaultStatus {self.line()}>"


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def har_dict(flows: list[http.HTTPFlow]) -> dict:
    """mitmproxy's own HAR, plus the annotations on each entry."""
    from mitmproxy.addons.savehar import SaveHar

    har = SaveHar().make_har(flows)
    for entry, flow in zip(har["log"]["entries"], [f for f in flows if isinstance(f, http.HTTPFlow)]):
        fault = flow.metadata.get(FAULT_KEY) or {}
        entry["comment"] = flow.comment
        entry["_fault"] = fault.get("spec")
        entry["_fault_rule"] = fault.get("rule")
        entry["_k6_error_code"] = flow.metadata.get("k6_error_code")
        entry["_k6_error"] = flow.metadata.get("k6_error")
        entry["_marked"] = flow.marked
        if flow.error:
            entry["_error"] = flow.error.msg
    return har


def write_har(flows: list[http.HTTPFlow], path: str) -> None:
    try:
        with open(path, "w") as fh:
            json.dump(har_dict(flows), fh, indent=1, default=str)
    except OSError as e:
        log.error(f"fault_har: cannot write {path}: {e}")
    else:
        log.info(f"fault_har: {len(flows)} flow(s) written to {path}")
