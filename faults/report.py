"""The JSONL report: it owns its record. One object per flow (or failed TLS handshake),
written once, when its outcome is known; built, written and read here only.

A full disk (or any write error) never stops the proxy: the record is dropped
and counted (the shutdown summary shows the count), one warning says so, and
writing resumes by itself when the disk has room again. A record is one
unbuffered write; if only part of it got in, that part is cut off again, so
the file never holds a partial line. Several workers (``faults proxy --workers
N``) append to one file: each record is one ``write`` on an ``O_APPEND``
descriptor, which Linux keeps whole between processes on a local file system;
there a partial line is ended (not cut, which could cut another worker's line)
and only that one record is lost.
"""

from __future__ import annotations

import json
import logging
import os
import time
import threading
from pathlib import Path

from faults import worker
from faults.gates import clock

log = logging.getLogger(__name__)


def cannot_open(e: OSError) -> str:
    """Why a report path cannot be opened, in one line: a parent that is a file,
    a directory, a read-only or virtual file system, no permission."""
    where = f" ({e.filename})" if e.filename else ""
    if isinstance(e, (FileExistsError, NotADirectoryError)):
        return f"a parent of it is a file, not a directory{where}"
    if isinstance(e, IsADirectoryError):
        return "it is a directory (give a file name)"
    return f"{e.strerror or e}{where}"


class Report:
    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "ab", buffering=0)  # each record: one write we can check
        self._lock = threading.Lock()
        self.dropped = 0
        self._failing = False
        self._partial = False

    def write(self, record: dict) -> None:
        data = (json.dumps(record, default=str, separators=(",", ":")) + "\n").encode("utf-8", "surrogateescape")
        with self._lock:
            try:
                self._append(data)
            except (OSError, ValueError) as e:  # ValueError: written after close
                self._drop(e)
            else:
                if self._failing:
                    self._failing = False
                    log.warning(f"fault_report: writing to {self.path} again ({self.dropped} record(s) dropped so far)")

    def _append(self, data: bytes) -> None:
        if self._partial:  # the partial line a failed write left ends here, on a line of its own
            data = b"\n" + data
        written = 0
        try:
            while written < len(data):
                n = self._fh.write(data[written:])
                if not n:
                    raise OSError(f"write to {self.path} made no progress")
                written += n
            self._partial = False
        except OSError:
            if written and worker.current():
                # several workers append to this file: cutting it back could cut
                # another worker's line; end the partial line at the next write
                self._partial = True
            elif written:  # a partial line: cut it off again
                try:
                    self._fh.truncate(self._fh.seek(0, os.SEEK_END) - written)
                except OSError as e:
                    log.error(f"fault_report: {self.path} ends with a partial line, cannot cut it: {e}")
            raise

    def _drop(self, e: Exception) -> None:
        self.dropped += 1
        if not self._failing:
            self._failing = True
            why = getattr(e, "strerror", None) or e
            log.warning(f"fault_report: cannot write to {self.path} ({why}): records are dropped and "
                        "counted until writing works again (said once)")

    def close(self) -> None:
        with self._lock:
            try:
                self._fh.close()
            except OSError:
                pass


def parse_line(raw: str | bytes) -> dict | None:
    """One JSONL line -> its object, or None (blank, not JSON, not an object)."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        obj = json.loads(raw)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def read(path: str | Path) -> list[dict]:
    """Every record of a report file (lines that do not parse are skipped)."""
    return [r for r in map(parse_line, Path(path).read_text().splitlines()) if r is not None]


def read_from(path: str | Path, offset: int = 0) -> tuple[list[dict], int]:
    """The records written since byte ``offset``, and the offset after the last
    complete line (a line being written right now is left for the next call)."""
    with Path(path).open("rb") as fh:
        fh.seek(offset)
        data = fh.read()
    end = data.rfind(b"\n") + 1
    recs = [r for r in map(parse_line, data[:end].decode(errors="replace").splitlines()) if r is not None]
    return recs, offset + end


# -- what records count as (the live metrics and the HTML report read the same) ---------
NO_ERROR = (0, None, "ok", "")  # what each client profile reports when nothing went wrong


def code_text(code) -> str:
    """A k6 code as a label value: ``none`` where nothing is known."""
    return "none" if code is None else str(code)


def k6_code_label(rec: dict) -> str:
    """The outcome a record counts under: its k6 code as text; ``ws`` for a WebSocket
    session (k6 sets no error_code for one), ``h3`` for an HTTP/3 flow (k6 has no HTTP/3
    client), ``none`` where nothing is known."""
    if rec.get("record") == "websocket":
        return "ws"
    if rec.get("k6_error_code") is None and rec.get("http_version") == "HTTP/3":
        return "h3"
    return code_text(rec.get("k6_error_code"))


def kind_of(spec: str) -> str:
    """A fault spec's kind: its first word (``status code=503`` -> ``status``); a stack's
    kinds joined by ``+`` (``delay ms=200 + status code=503`` -> ``delay+status``)."""
    return "+".join(w[0] for part in (spec or "").split(" + ") if (w := part.split(None, 1)))


def client_errors(clients: dict | None):
    """(client, error as text) for each client profile in a record's ``clients``
    that reports an error (not 0, None, "ok" or "")."""
    for name, r in (clients or {}).items():
        err = r.get("error") if isinstance(r, dict) else None
        if err not in NO_ERROR:
            yield name, str(err)


# -- records ---------------------------------------------------------------------------
# Every record has ``v`` (this format's version), ``ts``, ``record`` (its type:
# "flow", "tls_handshake", "dns", "websocket" or "connection"), ``worker`` (the
# ``fault_worker`` id of the process that wrote it, ``""`` alone), ``t`` (seconds after the
# run's t0 when it started) and ``duration_ms`` (start to settled; None where no start is
# known: a TLS handshake, a DNS query, a raw connection), the k6 fields (``k6_error_code``,
# ``k6_error``, ``certainty``, ``note``), ``outcome`` (event, catalog entry,
# summary), ``clients`` (what each client profile predicts) and ``facts``.
FORMAT = 2


def _base(record: str, start: float | None = None) -> dict:
    """The head every record starts with: format version, time, record type, the
    worker that wrote it (``faults.worker``; ``""`` for a lone proxy), ``t``: when
    it started (``start``, else now), in seconds after the run's t0
    (``faults.gates.clock``: all workers share it), and ``duration_ms``: from
    ``start`` to now, when the outcome was settled (None without a start)."""
    now = time.time()
    clock.start(start if start is not None else now)  # nothing started the clock yet: this record does
    return {"v": FORMAT, "ts": round(now, 3), "record": record, "worker": worker.current(),
            "t": round(clock.t(start if start is not None else now), 4),
            "duration_ms": round((now - start) * 1000, 1) if start is not None else None}


def _k6_fields(c) -> dict:
    k6 = c.k6
    return {
        "k6_error_code": k6.error,
        "k6_error": k6.message,
        "certainty": k6.certainty,
        "note": k6.note or None,
    }


def flow_record(flow, c, fault: dict | None, annotation: dict | None) -> dict:
    """The record of one finished HTTP flow and its ``Classification``. A
    text/event-stream response a fault cut or paused also says how many whole
    events reached the client first (``events_sent``)."""
    fault = fault or {}
    extra = {}
    if flow.response is not None and flow.response.headers.get("content-type", "").startswith("text/event-stream"):
        extra["events_sent"] = c.outcome.facts.get("events_sent")
    return {
        **_base("flow", flow.request.timestamp_start),
        "flow_id": flow.id,
        # when the request began and on which client connection: a reader (faults score) times
        # attempts from their start and tells a fresh connection from a re-used one
        "started": round(flow.request.timestamp_start, 3) if flow.request.timestamp_start else None,
        "conn": flow.client_conn.id,
        "url": flow.request.pretty_url,
        "method": flow.request.method,
        # the client's own id for the request, if it sends one: correlates its log with this record
        "request_id": flow.request.headers.get("x-request-id"),
        "http_version": flow.request.http_version,
        "status": flow.response.status_code if flow.response else None,
        "rule": fault.get("rule"),
        "fault": fault.get("spec"),
        **_k6_fields(c),
        "client_retry": c.k6.retried,
        "collateral_of": c.outcome.facts.get("collateral_of"),
        "error": flow.error.msg if flow.error else None,
        "outcome": c.outcome.as_dict(),
        "clients": c.clients_dict(),
        "facts": c.outcome.facts,
        "annotation": annotation,
        **extra,
    }


def handshake_record(c, *, url: str, host: str, sni: str | None, client: str | None, rule: str, fault: str,
                     error: str) -> dict:
    """The record of one failed (or deliberately ended) TLS handshake."""
    return {
        **_base("tls_handshake"),
        "url": url,
        "host": host,
        "sni": sni,
        "client": client,
        "rule": rule,
        "fault": fault,
        **_k6_fields(c),
        "error": error or None,
        "outcome": c.outcome.as_dict(),
        "clients": c.clients_dict(),
        "facts": c.outcome.facts,
    }


def connection_record(*, proxy: str, listen: str | None, upstream: str | None, client: str | None, n: int,
                      end: str, why: str | None, bytes_up: int, bytes_down: int, toxics: dict) -> dict:
    """The record of one raw TCP connection through a Toxiproxy proxy
    (``faults.toxiproxy``). The k6 fields say what k6 reports if the connection
    carried one HTTP/1.1 exchange (``likely``): a reset is 1220; a close before
    any byte reached the client is 1000 ``EOF``; otherwise nothing is known."""
    if end == "rst":
        code, msg = 1220, "read: connection reset by peer"
    elif end == "closed" and bytes_down == 0:
        code, msg = 1000, "EOF"
    else:
        code, msg = None, None
    return {
        **_base("connection"),
        "proxy": proxy,
        "listen": listen,
        "upstream": upstream,
        "client": client,
        "connection": n,
        "end": end,
        "why": why,
        "bytes_up": bytes_up,
        "bytes_down": bytes_down,
        "toxics": toxics,
        "k6_error_code": code,
        "k6_error": msg,
        "certainty": "likely" if code else None,
        "note": "if the connection carried one HTTP/1.1 exchange" if code else None,
    }


def dns_record(c, *, name: str, qtype: str, server: str, client: str | None, rule: str | None,
               fault: str | None, lookup: int) -> dict:
    """The record of one DNS query the DNS mode answered (or dropped). ``lookup``
    numbers the lookups of this name from this client: its queries share one."""
    return {
        **_base("dns"),
        "name": name,
        "qtype": qtype,
        "server": server,
        "client": client,
        "lookup": lookup,
        "rule": rule,
        "fault": fault,
        **_k6_fields(c),
        "outcome": c.outcome.as_dict(),
        "clients": c.clients_dict(),
        "facts": c.outcome.facts,
    }


def websocket_record(flow, c, fault: dict | None) -> dict:
    """The record of one WebSocket session, written when it ended. ``ws_close_code`` is
    the close code k6/ws's script sees, ``ws_error`` its error event text (k6 sets no
    error_code for a session); a refused upgrade is a flow record instead."""
    fault, f, k6 = fault or {}, c.outcome.facts, c.k6
    return {
        **_base("websocket", flow.request.timestamp_start),
        "flow_id": flow.id,
        "url": flow.request.pretty_url,
        "http_version": flow.request.http_version,
        "status": f.get("status"),
        "rule": fault.get("rule"),
        "fault": fault.get("spec"),
        "messages_to_client": f.get("messages_to_client"),
        "messages_from_client": f.get("messages_from_client"),
        "ended": c.outcome.event,
        "ws_close_code": k6.extra.get("close_code"),
        "ws_error": k6.message,
        "certainty": k6.certainty,
        "note": k6.note or None,
        "outcome": c.outcome.as_dict(),
        "clients": c.clients_dict(),
        "facts": f,
    }
