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

_memo: list = [None, frozenset()]  # headers.fields, their lower-case names
_CONNECT = b"CONNECT"


def is_connect(flow) -> bool:
    """``flow.request.method == "CONNECT"``, as mitmproxy reads it (upper-cased), on the raw bytes."""
    return flow.request.data.method.upper() == _CONNECT


def names(headers) -> frozenset[bytes]:
    """The lower-case names (bytes) of ``headers`` (a mitmproxy ``Headers``)."""
    fields = headers.fields
    if _memo[0] is not fields:
        _memo[:] = [fields, frozenset(k.lower() for k, _ in fields)]
    return _memo[1]
