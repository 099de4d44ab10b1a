#!/usr/bin/env bash
# The test suite: unit tests and end-to-end tests with real clients (k6, curl, httpx).
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
exec .venv/bin/python -m pytest "$@"
