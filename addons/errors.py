"""mitmdump -s addons/errors.py: the fault injector and its sibling classifier
(``faults.addons.FaultAddon``; its docstring says why it is one addon)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout too

from faults.addons import FaultAddon  # noqa: E402

addons = [FaultAddon()]
