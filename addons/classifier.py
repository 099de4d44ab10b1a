"""mitmdump -s addons/classifier.py: annotate flows with k6 codes, inject nothing."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from faults.addons.annotate import Classifier  # noqa: E402

addons = [Classifier()]
