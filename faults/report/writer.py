"""Writing the JSONL report: one record a line, one unbuffered write each.

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
import threading
from pathlib import Path

from faults import worker

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
