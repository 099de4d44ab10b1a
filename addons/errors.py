"""mitmdump -s addons/errors.py: the fault injector and its sibling classifier,
from this checkout (``faults/addon.py``; an installed copy: ``faults addon``).

This entry runs the code of the checkout it sits in, also under a mitmdump
from another environment where mitm-faults is installed: it says so in the log
then, and refuses to start if another copy of ``faults`` is already loaded
(two copies in one process would mix their code).
"""

import importlib.util
import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_here = ROOT / "faults"
_log = logging.getLogger("faults")
_loaded = sys.modules.get("faults")
addons = []
if _loaded is not None and Path(_loaded.__file__).resolve().parent != _here:
    # an error at start-up makes mitmdump exit 1, without a traceback
    _log.error(f"faults: {__file__} runs the checkout's faults package ({_here}), but another copy is already "
               f"loaded from {Path(_loaded.__file__).parent}: load only one of them")
else:
    _spec = importlib.util.find_spec("faults") if _loaded is None else None
    if _spec and _spec.origin and Path(_spec.origin).resolve().parent != _here:
        _log.warning(f"faults: running the checkout's code from {_here}, not the installed package at "
                     f"{Path(_spec.origin).parent} (for that one: mitmdump -s \"$(faults addon)\")")
    sys.path.insert(0, str(ROOT))
    from faults.addon import addons  # noqa: E402,F811
