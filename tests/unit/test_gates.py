"""faults.gates: durations, ranges, ramps, the Timing gates and the shared t0 clock."""

import time

import pytest

from faults import gates
from faults.errors import SpecError
from faults.gates import Clock, Ramp, Timing


@pytest.mark.parametrize("text, s", [("30s", 30), ("1.5s", 1.5), ("500ms", 0.5), ("2m", 120), ("1h", 3600),
                                     ("7", 7), (7, 7), (0.25, 0.25), (" 3 s ", 3)])
def test_durations(text, s):
    assert gates.seconds(text, "window") == pytest.approx(s)


@pytest.mark.parametrize("bad", ["", "s", "-1s", "1d", "1e3s", True, None, [1], "nan", "9999999h"])
def test_bad_durations_say_what_is_expected(bad):
    with pytest.raises(SpecError, match="window="):
        gates.seconds(bad, "window")


def test_windows_and_request_ranges():
    assert gates.window("30s..90s") == (30, 90)
    assert gates.window("30s..") == (30, None)
    assert gates.window("..1m") == (0, 60)
    assert gates.requests("100..400") == (100, 400)
    assert gates.requests("5..") == (5, None)
    assert gates.requests(5) == (5, None)
    for bad in ["90s..30s", "30s", "..", "1..2..3", 5]:
        with pytest.raises(SpecError, match="window="):
            gates.window(bad)
    for bad in ["400..100", "0..5", "a..b", "1.5..3"]:
        with pytest.raises(SpecError, match="requests="):
            gates.requests(bad)


def test_probability_forms():
    assert gates.probability("0.3") == 0.3 and gates.probability(1) == 1.0
    assert gates.probability("0.2..0.5") == (0.2, 0.5)
    r = gates.probability({"0s": 0, "30s": 0.2, 90: 0.5})
    assert r == Ramp(((0, 0), (30, 0.2), (90, 0.5)))
    assert gates.probability("0s:0,30s:0.2,90s:0.5") == r  # the inline form
    for bad, needle in [("0.2..", "both ends"), ("0.2..1.5", "from 0 to 1"), ({}, "keyframes need"),
                        ({"0s": 0, "0ms": 1}, "same time"), ("0s:0,30s", "TIME:P"), ({"x": 0}, "duration")]:
        with pytest.raises(SpecError, match=needle):
            gates.probability(bad)


def test_ramp_is_linear_between_keyframes_and_held_outside():
    r = Ramp(((10, 0.0), (30, 0.2), (90, 0.5)))
    assert [r.at(t) for t in (0, 10, 20, 30, 60, 90, 500)] == pytest.approx([0, 0, 0.1, 0.2, 0.35, 0.5, 0.5])


def test_timing_places_a_ramp_on_its_window():
    t, p = Timing.build({"probability": (0.2, 0.5), "window": (30, 90)})
    assert p is None and t.ramp == Ramp(((30, 0.2), (90, 0.5))) and t.timed()
    t, _ = Timing.build({"probability": (0.0, 1.0), "requests": (1, 11)})
    assert t.ramp.axis == "n" and t.p(6, None) == pytest.approx(0.5) and not t.timed()
    with pytest.raises(SpecError, match="a ramp runs over the rule's window"):
        Timing.build({"probability": (0.2, 0.5), "window": (30, None)})
    assert Timing.build({"probability": 0.5}) == (None, 0.5)


def test_window_and_requests_admit():
    t = Timing(window=(2, 4), requests=(3, 5))
    assert not t.admits(3, 1.99) and t.admits(3, 2) and t.admits(5, 3.99) and not t.admits(5, 4)
    assert not t.admits(2, 3) and not t.admits(6, 3) and not t.admits(3, None)


def test_max_active_takes_and_releases_and_counts_the_overflow():
    t = Timing(max_active=2)
    assert t.take() and t.take() and not t.take() and not t.take()
    assert t.over_max == 2 and t.active == 2
    t.release()
    assert t.take() and t.describe() == {"max_active": 2, "active": 2, "over_max_active": 2}


def test_clock_starts_once_and_is_shared_through_its_file(tmp_path):
    a, b = Clock(), Clock()
    a.share(tmp_path)
    b.share(tmp_path)
    assert a.t() is None
    assert a.start(1000.0) == 1000.0
    assert b.start(1005.0) == 1000.0  # the sibling adopts the first worker's t0
    assert a.start(2000.0) == 1000.0  # set once
    a.set(1500.0)  # explicit: written for the siblings
    c = Clock()
    c.share(tmp_path)
    assert c.start(3000.0) == 1500.0
    a.set(None)  # unset: the next request anywhere sets it
    d = Clock()
    d.share(tmp_path)
    assert d.start(4000.0) == 4000.0
    assert abs(d.t(4001.5) - 1.5) < 1e-9


def test_clock_alone_has_no_file():
    c = Clock()
    now = time.time()
    c.start(now - 2)
    assert c.t(now) == pytest.approx(2.0) and c.t() >= 2.0


def test_clock_now_starts_an_unset_clock_and_reads_on_t_axis(monkeypatch):
    c = Clock()
    assert c.now() == 0.0 and c.t0 is not None  # started by the call, at that instant
    c.set(time.time() - 2, shared=False)
    before = time.time() - c.t0
    now = c.now()
    after = time.time() - c.t0
    assert before - 0.001 <= now <= after + 0.001  # seconds after t0, as t() says (the anchor read once)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 3600)  # the wall clock is stepped
    assert c.now() < after + 1800  # now() is not: it counts on the monotonic clock
