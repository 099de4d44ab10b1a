"""Reading a JSONL report: every record, or those written since an offset (a reader
following a file that is still being written)."""

from __future__ import annotations

import json
from pathlib import Path


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
