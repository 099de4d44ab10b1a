"""faults.addons.succession: a script reload's new addon finds the one it replaces, and the
old one's state is closed only when none came."""

import asyncio

from mitmproxy.test import taddons

from faults.addons import succession


class Part:
    pass


def test_take_over_finds_the_addon_of_the_same_class_under_the_same_master():
    with taddons.context():
        first, second = Part(), Part()
        assert succession.take_over(first) is None  # the first start
        assert succession.take_over(first) is None  # loaded again: not its own predecessor
        assert succession.take_over(second) is first  # a reload
    with taddons.context():
        assert succession.take_over(Part()) is None  # another master: another proxy


def test_state_is_closed_only_when_no_successor_came_in_the_same_step():
    closed = []

    async def scenario():
        with taddons.context():
            reloaded, successor = Part(), Part()
            succession.take_over(reloaded)

            async def close_reloaded():
                closed.append("reloaded")
            succession.close_unless_succeeded(reloaded, close_reloaded)
            succession.take_over(successor)  # the reload's new addon, in the same step

            async def close_successor():
                closed.append("successor")
            succession.close_unless_succeeded(successor, close_successor)  # its script dropped: none comes
            for _ in range(3):
                await asyncio.sleep(0)
        assert closed == ["successor"]

    asyncio.run(scenario())
