"""faults/memo.py: the bounded memo every hot-path cache uses."""

from faults.memo import remember


def test_remember_keeps_values_until_full_then_starts_again():
    memo: dict = {}
    assert [remember(memo, i, i * i, 3) for i in range(3)] == [0, 1, 4]
    assert memo == {0: 0, 1: 1, 2: 4}
    assert remember(memo, 3, 9, 3) == 9  # full: everything forgotten, then the new entry
    assert memo == {3: 9}


def test_replacing_a_key_of_a_full_memo_still_forgets_the_rest():
    memo = {"a": 1, "b": 2}
    remember(memo, "a", 5, 2)
    assert memo == {"a": 5}


def test_the_limit_is_read_per_call():
    memo: dict = {}
    for i in range(10):
        remember(memo, i, i, 4 if i < 5 else 2)
        assert len(memo) <= (4 if i < 5 else 2)
