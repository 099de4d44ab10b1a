"""mitmdump -s addons/classifier.py: annotate flows with k6 codes, inject nothing.

Runs this checkout's code (see addons/errors.py for how it treats an installed copy)."""

import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_loaded = sys.modules.get("faults")
addons = []
if _loaded is not None and Path(_loaded.__file__).resolve().parent != ROOT / "faults":
    logging.getLogger("faults").error(
        f"faults: {__file__} runs the checkout's faults package, but another copy is already loaded "
        f"from {Path(_loaded.__file__).parent}: load only one of them")
else:
    sys.path.insert(0, str(ROOT))
    from faults.addons.annotate import Classifier  # noqa: E402

    addons = [Classifier()]
