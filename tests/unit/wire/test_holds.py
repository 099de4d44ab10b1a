"""``faults.wire.holds``: the flows a fault holds now, by connection; what a connection's end cuts."""

import asyncio
import random

from mitmproxy.test import tflow

from faults import vocabulary
from faults.wire import holds
from faults.wire.act import Act
from tests.waiting import wait_until_async


def _on_one_connection(n: int) -> list:
    flows = [tflow.tflow() for _ in range(n)]
    for f in flows[1:]:
        f.client_conn = flows[0].client_conn
    return flows


def test_a_held_flow_is_known_only_while_held():
    culprit, held = _on_one_connection(2)
    assert holds.cut_by(culprit) == []
    with holds.holding(held):
        assert holds.cut_by(culprit) == [held.id]
        assert holds.cut_by(held) == []  # not its own end's victim
    assert holds.cut_by(culprit) == [] and holds._holding == {}


def test_a_stream_the_client_reset_first_is_not_cut():
    culprit, held, cancelled = _on_one_connection(3)
    cancelled.metadata[vocabulary.WIRE] = {"client_reset_seq": 7}
    with holds.holding(held), holds.holding(cancelled):
        assert holds.cut_by(culprit) == [held.id]


def test_another_connections_hold_is_not_cut():
    culprit, other = tflow.tflow(), tflow.tflow()
    with holds.holding(other):
        assert holds.cut_by(culprit) == []


def test_a_hold_registers_and_the_end_records_what_it_cut(monkeypatch):
    """Act.hold holds the flow; a sibling's Act ending the connection meanwhile records it (``cut_held``)."""
    from faults.wire import sockets
    culprit, held = _on_one_connection(2)
    held.client_conn.timestamp_end = None  # a live connection: the hold lasts until stopped
    monkeypatch.setattr(sockets, "reset", lambda conn: True)

    async def scene():
        act = Act(held, asyncio.Event(), random.Random(0))
        task = asyncio.create_task(act.hold(5))
        await wait_until_async(lambda: held.id in holds._holding.get(held.client_conn.id, {}), 5, "the hold registered",
                               poll=0.001)
        Act(culprit, asyncio.Event(), random.Random(0))._end("rst")
        act.stopping.set()
        return await task

    assert asyncio.run(scene()) == "stopping"
    assert culprit.metadata[vocabulary.WIRE]["cut_held"] == [held.id]
    assert "cut_held" not in held.metadata[vocabulary.WIRE] and holds._holding == {}
