"""The pytest plugin's environment numbers go through faults.numbers: a bad
FAULT_SEED or FAULT_WORKERS is a usage error naming it, never a traceback."""

import pytest

from faults.tools import pytest_plugin


class _Config:
    def getoption(self, name, default=None):
        return default


@pytest.mark.parametrize("name, value", [("FAULT_SEED", "²"), ("FAULT_SEED", "1" * 5000), ("FAULT_SEED", "abc"),
                                         ("FAULT_WORKERS", "²"), ("FAULT_WORKERS", "0"), ("FAULT_WORKERS", "٣")])
def test_bad_environment_numbers_are_usage_errors(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    read = pytest_plugin._seed if name == "FAULT_SEED" else pytest_plugin._workers
    with pytest.raises(pytest.UsageError, match=f"^{name}="):
        read(_Config())


def test_good_environment_numbers(monkeypatch):
    monkeypatch.setenv("FAULT_SEED", "42")
    monkeypatch.setenv("FAULT_WORKERS", "2")
    assert pytest_plugin._seed(_Config()) == 42 and pytest_plugin._workers(_Config()) == 2
