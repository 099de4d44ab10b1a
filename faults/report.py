"""The JSONL report: one object per flow, written once, when its outcome is known.

A full disk (or any write error) never stops the proxy: the record is dropped
and counted (the shutdown summary shows the count), one warning says so, and
writing resumes by itself when the disk has room again. A record is one
unbuffered write; if only part of it got in, that part is cut off again, so
the file never holds a partial line.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

log = logging.getLogger(__name__)


class Report:
    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "ab", buffering=0)  # each record: one write we can check
        self._lock = threading.Lock()
        self.dropped = 0
        self._failing = False

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
        written = 0
        try:
            while written < len(data):
                n = self._fh.write(data[written:])
                if not n:
                    raise OSError(f"write to {self.path} made no progress")
                written += n
        except OSError:
            if written:  # a partial line: cut it off again
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


def read(path: str | Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
