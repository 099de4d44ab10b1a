#!/usr/bin/env bash
# The test suite: unit tests and end-to-end tests with real clients (k6, curl, httpx, Node,
# Java, Chromium, ...), in parallel (pytest-xdist; FAULTS_TEST_WORKERS, default 4: most e2e
# time is spent waiting on sockets and clients, not on a core) with a per-test timeout
# (pytest-timeout, pyproject.toml). Arguments go to pytest (`./test.sh -n 0 tests/unit` runs
# serially).
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
source tests/install-clients.sh
exec .venv/bin/python -m pytest -n "${FAULTS_TEST_WORKERS:-4}" --dist loadgroup "$@"
