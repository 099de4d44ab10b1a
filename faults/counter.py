"""Counters for global rule gates (``gates: global``): the n-th match of a rule
counted across every worker process, not per process.

``SharedCounter`` is a small JSON file (``{key: count}``) that every worker
opens; each ``next(key)`` takes an exclusive ``fcntl.flock`` on it, reads,
increments, writes back and unlocks, so concurrent workers never hand out the
same number twice and never skip one. Only rules with ``gates: global`` that
matched a flow pay for it (a lock and a few hundred bytes of I/O).
``LocalCounter`` is the same interface in memory, for a lone process.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path


class LocalCounter:
    def __init__(self):
        self._counts: dict[str, int] = {}

    def next(self, key: str) -> int:
        n = self._counts.get(key, 0) + 1
        self._counts[key] = n
        return n

    def get(self, key: str) -> int:
        return self._counts.get(key, 0)


class SharedCounter:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)

    def _read(self) -> dict:
        os.lseek(self._fd, 0, os.SEEK_SET)
        chunks = []
        while chunk := os.read(self._fd, 65536):
            chunks.append(chunk)
        try:
            doc = json.loads(b"".join(chunks) or b"{}")
        except ValueError:  # only a crash mid-write leaves this: start again rather than stop
            doc = {}
        return doc if isinstance(doc, dict) else {}

    def next(self, key: str) -> int:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            counts = self._read()
            n = int(counts.get(key, 0)) + 1
            counts[key] = n
            data = json.dumps(counts, separators=(",", ":")).encode()
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, data, 0)
            return n
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def get(self, key: str) -> int:
        fcntl.flock(self._fd, fcntl.LOCK_SH)
        try:
            return int(self._read().get(key, 0))
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        try:
            os.close(self._fd)
        except OSError:
            pass
