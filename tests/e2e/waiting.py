"""What an end-to-end test waits for (records in the report file, the proxy's connections
closing, its metrics), each a bounded wait (tests/waiting.py's ``wait_until``) instead of a
fixed "settle" sleep: it returns as soon as the thing is there, and fails naming what it
waited for and what it saw.

The proxy writes a flow's report record once the flow's outcome is settled (its
response or error; over HTTP/2 once the response is handed to the client; a stream
left open on a faulted connection is finished 1 s after that connection closed): so a
test waits for the complete set of records it then compares, never for "some".
"""

from __future__ import annotations

import os
import re
import time
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path

from faults import report
from faults.addons.annotate import SWEEP_AFTER
from tests.waiting import wait_until  # the one wait; the e2e tests import it from here too

RECORDS_TIMEOUT = 30.0  # s: a record is due well within this once the client is done, even on a loaded machine


def read_records(path: str | Path) -> list[dict]:
    """The report's records so far (none while the file does not exist yet)."""
    return report.read(path) if Path(path).exists() else []


def wait_for_records(path: str | Path, ready: Callable[[list[dict]], object], what: str,
                     timeout: float = RECORDS_TIMEOUT) -> list[dict]:
    """Every record of the report at ``path`` once ``ready(records)`` holds."""
    last: list[dict] = []

    def check():
        last[:] = read_records(path)
        return ready(last)

    wait_until(check, timeout, what, seen=lambda: _brief(last))
    return list(last)


def case_of(rec: dict) -> str | None:
    """The ``case`` query parameter of a flow record's URL."""
    url = rec.get("url") or ""
    return url.split("case=")[1].split("&")[0] if "case=" in url else None


def by_case(recs: Iterable[dict]) -> dict[str, list[dict]]:
    """Records grouped by their ``case`` query parameter, in the order written."""
    out: dict[str, list] = {}
    for r in recs:
        case = case_of(r)
        if case is not None:
            out.setdefault(case, []).append(r)
    return out


def final_seen(recs: list[dict]) -> bool:
    """A case's records hold the attempt its client reported: one the client did not retry."""
    return any(not r["client_retry"] for r in recs)


def any_record(_case: str, _recs: list[dict]) -> bool:
    """``done`` for a client without k6's retry flag (curl, httpx): a record is there (with
    ``closed``, every attempt's: each attempt's flow is finished once its connection closed)."""
    return True


def reported(results: dict[str, dict]):
    """``done`` for k6 cases (``results``: k6run's, by case): the final attempt's record; for a
    request k6 gave up on at its timeout (1050) any record, as the attempt it abandoned may be
    one it would have retried (the records of a retry storm all say ``client_retry``)."""
    return lambda case, recs: final_seen(recs) or results[case]["error_code"] == 1050


def records_by_case(px, cases: Iterable[str], done: Callable[[str, list[dict]], bool] | None = None,
                    timeout: float = RECORDS_TIMEOUT, closed: bool = True,
                    maybe: Iterable[str] = ()) -> dict[str, list[dict]]:
    """The report's records by case once each of ``cases`` is complete: ``done(case, its
    records)``, by default its final attempt's record is there (``final_seen``). With
    ``closed`` first until the proxy holds no connection (the clients are done: every flow
    on their connections is finished, so a retried attempt's late record is there too).
    ``maybe``: cases that may have no record (a request a fault's connection end overtook
    before the proxy parsed it), waited for only as long as the proxy's sweep of flows left
    open on a connection a fault ended (``SWEEP_AFTER``)."""
    want, optional = list(cases), list(maybe)
    done = done or (lambda _case, recs: final_seen(recs))
    if closed:
        wait_connections_closed(px, timeout)
    last: list[dict] = []

    def missing(among: list[str]) -> list[str]:
        got = by_case(last)
        return [c for c in among if not (got.get(c) and done(c, got[c]))]

    def complete(among: list[str]):
        def check() -> bool:
            last[:] = read_records(px.report_path)
            return not missing(among)
        return check

    wait_until(complete(want), timeout, f"the report records of {len(want)} cases",
               seen=lambda: f"cases not complete: {missing(want)}; " + _brief(last))
    if optional:
        wait_until(complete(optional), SWEEP_AFTER + 0.5, "", fail=False)
    return by_case(last)


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def fd_targets(pid: int) -> dict[str, str]:
    """Process ``pid``'s open file descriptors: number -> what it is (``socket:[inode]``, a path)."""
    out = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out[fd] = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:  # closed meanwhile
            pass
    return out


def socket_inodes(pid: int) -> set[str]:
    """The inodes of process ``pid``'s sockets (as /proc/PID/net/tcp names them)."""
    return {t[8:-1] for t in fd_targets(pid).values() if t.startswith("socket:[")}


def tcp_connections(pid: int) -> int:
    """The TCP connections process ``pid`` holds open (its sockets not listening)."""
    inodes = socket_inodes(pid)
    n = 0
    for table in ("tcp", "tcp6"):
        with open(f"/proc/{pid}/net/{table}") as fh:
            next(fh)
            for line in fh:
                cols = line.split()
                n += cols[9] in inodes and cols[3] != "0A"  # 0A: LISTEN
    return n


def wait_connections_closed(px, timeout: float = 15.0) -> None:
    """Until the proxy holds no TCP connection: every client's (and so its upstream's) closed,
    every flow on them finished, except those it sweeps ``SWEEP_AFTER`` later (``swept``)."""
    wait_until(lambda: tcp_connections(px.proc.pid) == 0, timeout, "the proxy to close every connection",
               seen=lambda: f"{tcp_connections(px.proc.pid)} still open")


def swept(px, timeout: float = 15.0) -> None:
    """Until the proxy holds no connection, then its sweep delay: a flow left open on a
    connection a fault ended is finished (recorded) ``SWEEP_AFTER`` after that connection
    closed (faults/addons/annotate.py). For records that may be absent (a request cut before
    the proxy parsed it has none), so that no set of records can be waited for."""
    wait_connections_closed(px, timeout)
    time.sleep(SWEEP_AFTER + 0.2)  # the proxy's own timer, not a guess: see the docstring


METRICS_RE = re.compile(r"faults: metrics at (http://127\.0\.0\.1:\d+/metrics)")


def metrics_url(px, timeout: float = 15.0) -> str:
    """The ``fault_metrics`` address the proxy logged (port 0: any free port)."""
    return wait_until(lambda: (m := METRICS_RE.search(px.log())) and m.group(1), timeout,
                      "the metrics address in the proxy's log", seen=lambda: px.log()[-2000:])


def scrape(url: str) -> dict[tuple, float]:
    """The proxy's ``/metrics``, read with prometheus_client's own parser: (name, labels) -> value."""
    from prometheus_client.parser import text_string_to_metric_families

    text = urllib.request.urlopen(url, timeout=5).read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def _brief(recs: list[dict], limit: int = 40) -> str:
    """The records in a line each: what a failed wait saw."""
    rows = [f"{r.get('record', 'flow')} {case_of(r) or r.get('url') or r.get('host') or r.get('name') or ''} "
            f"k6={r.get('k6_error_code')} retry={r.get('client_retry')}" for r in recs[-limit:]]
    more = f"({len(recs) - limit} earlier records left out) " if len(recs) > limit else ""
    return f"{len(recs)} records: " + more + "; ".join(rows)
