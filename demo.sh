#!/usr/bin/env bash
# The main job: proxy + embedded upstream + default fault plan, a short k6 run
# through it, a table of each fault with the code k6 reported and ours; then it
# keeps serving for your own client (Ctrl-C to stop; --once to exit).
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
exec .venv/bin/python -m faults.tools.demo "$@"
