"""``python -m faults``: see faults.tools.cli."""

import sys

from faults.tools.cli import main

sys.exit(main())
