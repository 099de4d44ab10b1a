#!/usr/bin/env bash
# Make .venv (Python >= 3.12) and install the project with its test extra.
# Sourced by demo.sh and test.sh; re-installs only when pyproject.toml changes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
export PYENV_VERSION="${PYENV_VERSION:-$(cat .python-version 2>/dev/null || echo 3.12.1)}"
pick_python() {
  for py in "${PYTHON:-}" python3.12 python3.13 python3; do
    [ -n "$py" ] || continue
    if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
      echo "$py"; return 0
    fi
  done
  echo "bootstrap: no Python >= 3.12 found (tried \$PYTHON, python3.12, python3.13, python3)" >&2
  return 1
}
if [ ! -x .venv/bin/python ]; then
  py="$(pick_python)"
  echo "bootstrap: creating .venv with $py" >&2
  "$py" -m venv .venv
fi
stamp=".venv/.installed-$(cat pyproject.toml | sha1sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  echo "bootstrap: installing the project and its test extra into .venv" >&2
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"
  rm -f .venv/.installed-*
  touch "$stamp"
fi
