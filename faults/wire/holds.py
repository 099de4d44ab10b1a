"""Which flows a fault is holding right now, by client connection.

When a flow's fault ends its HTTP/2 connection, the streams held on it (``hang``,
``delay``, a stall, a lone 1xx) end too, and a client whose own timeout for a held
stream fires just then races that end (``Outcome.held_cut_by_sibling``). The held
flows' records learn of the end later (a hold polls); the ending flow's record is
written at once, so it reads here, at the end, which held streams it cut
(``Outcome.cut_held_sibling``; docs/http2.md, "Sibling streams").
"""

from __future__ import annotations

from contextlib import contextmanager

from faults import vocabulary
from faults.wire import h2layer

_holding: dict[str, dict[str, object]] = {}  # client connection id -> {flow id: flow}


@contextmanager
def holding(flow):
    """``flow`` is held (its fault waits in a hook) for the duration of the block."""
    conn = _holding.setdefault(flow.client_conn.id, {})
    conn[flow.id] = flow
    try:
        yield
    finally:
        conn.pop(flow.id, None)
        if not conn:
            _holding.pop(flow.client_conn.id, None)


def cut_by(flow) -> list[str]:
    """The ids of the other flows on ``flow``'s connection held now (in a hook, or an HTTP/2
    stream the layer holds), whose client had not reset them: what ending it now cuts."""
    held = list(_holding.get(flow.client_conn.id, {}).values())
    server = h2layer.server_of(flow)
    if server is not None:
        held += [f for f in map(server.flow_of, list(server.held)) if f is not None]
    ids = [f.id for f in held if f.id != flow.id and "client_reset_seq" not in f.metadata.get(vocabulary.WIRE, {})]
    return list(dict.fromkeys(ids))
