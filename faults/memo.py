"""Bounded memos: a dict of remembered results that forgets everything when full.

Every memo on the hot path (a rule's host verdicts, a plan's candidates per host, the
host keys, the classifier's outcomes, the metrics' counters, the passthrough's hosts)
keeps at most a stated number of entries. Forgetting all at once, rather than the
oldest, keeps a hit a plain ``dict.get`` (no bookkeeping per lookup); a miss pays one
length check. Past the limit the workload has more distinct keys than the memo
holds, and each key is recomputed once per fill."""

from __future__ import annotations


def remember(memo: dict, key, value, limit: int):
    """``memo[key] = value``, after forgetting every entry if ``memo`` holds ``limit`` already;
    ``value``. The limit is the caller's (read where it is stated, so a test may lower it)."""
    if len(memo) >= limit:
        memo.clear()
    memo[key] = value
    return value
