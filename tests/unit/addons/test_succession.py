"""faults.addons.succession: a script reload's new addon finds the one it replaces."""

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
