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


# Groups that take longest (measured: --durations in CI), started first so that no worker is
# left with a long one at the end. Module paths or client-matrix groups.
LONGEST_FIRST = ("tests/e2e/test_install.py", "matrix-chromium", "tests/e2e/test_websocket.py",
                 "tests/e2e/test_h2_siblings.py", "tests/e2e/test_soak.py", "matrix-node",
                 "tests/e2e/test_h2_concurrency.py", "tests/e2e/test_sse.py", "matrix-java")


def _shares_module_state(item) -> bool:
    """Whether the item uses a module- or class-scoped fixture (a proxy started once for
    the module, measurements cached across its tests)."""
    defs = getattr(item, "_fixtureinfo", None)
    return bool(defs) and any(d.scope in ("module", "class")
                              for fds in defs.name2fixturedefs.values() for d in fds)


def _group(item) -> str | None:
    mark = item.get_closest_marker("xdist_group")
    return mark.args[0] if mark and mark.args else None


def pytest_itemcollected(item):
    """xdist groups (./test.sh runs ``--dist loadgroup``): an end-to-end module whose tests
    share a module-scoped fixture stays on one worker, so its proxy starts once; the client
    matrix is one group per client, so its drivers (one process per client) run side by side.
    Other tests spread freely."""
    # marked as each item is collected, so the marks are there when xdist's worker turns them
    # into node id suffixes (its collection_modifyitems); tests/unit/test_suite_groups.py checks it
    module = item.nodeid.split("::")[0]
    if _group(item) or "e2e" not in Path(module).parts or not _shares_module_state(item):
        return
    client = item.callspec.params.get("client") if hasattr(item, "callspec") else None
    if module.endswith("test_client_matrix.py") and client:
        item.add_marker(pytest.mark.xdist_group(f"matrix-{client}"))
    else:
        item.add_marker(pytest.mark.xdist_group(module))


def pytest_collection_modifyitems(items):
    """The longest groups first (a stable sort: every worker collects the same order)."""
    rank = {g: i for i, g in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda it: rank.get(_group(it) or it.nodeid.split("::")[0], len(rank)))
