"""``python -m faults``: see faults.cli."""

import sys

from faults.cli import main

sys.exit(main())
