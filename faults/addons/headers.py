"""Cheap reads of a request's head, for the checks every hook makes on every flow.

``is_connect``: ``request.method`` decodes and upper-cases the method on every read (about
ten reads per exchange across the hooks); comparing the raw bytes skips the decode.

``names``: every request passes several "is header X there?" checks (``x-fault``,
``x-fault-token``, ``upgrade``); each ``name in headers`` of mitmproxy scans
and lower-cases every field. This scans once and keeps the result while the
headers are unchanged (mitmproxy replaces ``headers.fields``, a tuple, on any
change; the memo holds the tuple, so its identity cannot be reused).
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet

_memo: list = [None, set()]  # headers.fields, their lower-case names
_CONNECT = b"CONNECT"


def is_connect(flow) -> bool:
    """``flow.request.method == "CONNECT"``, as mitmproxy reads it (upper-cased), on the raw bytes
    (upper-cased only when it has CONNECT's length: about seven calls per exchange)."""
    m = flow.request.data.method
    return m == _CONNECT or (len(m) == 7 and m.upper() == _CONNECT)


def names(headers) -> AbstractSet[bytes]:
    """The lower-case names (bytes) of ``headers`` (a mitmproxy ``Headers``); do not change it."""
    fields = headers.fields
    if _memo[0] is not fields:
        _memo[:] = [fields, {k.lower() for k, _ in fields}]  # a comprehension: inlined, no generator
    return _memo[1]
