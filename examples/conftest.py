"""The example suite's own upstream: a small local HTTP server (faults.tools.upstream).

The ``fault_proxy`` fixture comes from the installed pytest plugin (entry point
``pytest11``), nothing to import.
"""

import pytest

from faults.tools.upstream import Upstream


@pytest.fixture(scope="session")
def upstream_url():
    with Upstream() as up:
        yield up.url
