"""Which client connections a fault ended, how, and by which flow.

When a fault ends a connection (a TCP RST or FIN, a GOAWAY then close, an
HTTP/2 violation), every other request still open on it ends too: its HTTP/2
siblings, or on HTTP/1.1 a request the client sent on the connection we had
already half-closed. Those flows finish later (an ``error`` or a response that
is never written); the classifier addon then copies the connection's end into
their wire record with ``collateral_of`` naming the flow whose fault did it,
so each gets what its client saw (measured with k6: docs/http2.md, "Sibling
streams").

Writers: ``Act`` (``end_connection``, ``end_connection_after_sent``) and the
HTTP/2 layer (GOAWAY then close, violations). Reader: ``faults.addons.annotate``.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict

MAX_CONNECTIONS = 4096  # connections remembered; old ones are forgotten first

_ended: OrderedDict[str, dict] = OrderedDict()
_seq = itertools.count(1)


def tick() -> int:
    """A number that orders every end (a flow's own, a connection's): a fault
    that ended its own stream before its connection died keeps its own record."""
    return next(_seq)


def mark(client_id: str, culprit: str, **how) -> None:
    """Connection ``client_id`` ended because of flow ``culprit``'s fault.
    ``how``: ``conn_end="rst"|"fin"``, or ``h2_frame="goaway"`` with ``code``
    and ``last_stream``, or ``h2_frame="violation"`` with ``violation``.
    The first end wins: later ones cannot change what the client already saw."""
    if client_id in _ended:
        return
    _ended[client_id] = {"collateral_of": culprit, "seq": tick(), **how}
    while len(_ended) > MAX_CONNECTIONS:
        _ended.popitem(last=False)


def of(client_id: str) -> dict | None:
    return _ended.get(client_id)


def forget(client_id: str) -> None:
    _ended.pop(client_id, None)


def clear() -> None:
    _ended.clear()
