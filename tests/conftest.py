import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from faults.tools.upstream import Upstream  # noqa: E402


@pytest.fixture(scope="session")
def upstream():
    with Upstream() as up:
        yield up
