"""mitmdump -s addons/errors.py: the fault injector and its sibling classifier.

The injector must come first so that the classifier, running after it on the
same hooks, sees what the fault did.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout too

from faults.annotate import Classifier  # noqa: E402
from faults.control import FaultControl  # noqa: E402
from faults.h2frames import H2Frames  # noqa: E402
from faults.injector import FaultInjector  # noqa: E402
from faults.tls import TlsFaults  # noqa: E402
from faults.status import FaultStatus  # noqa: E402

# FaultControl first: it answers requests to the control host before any fault applies;
# FaultStatus last: it reads what the classifier wrote.
addons = [FaultControl(), FaultInjector(), TlsFaults(), H2Frames(), Classifier(), FaultStatus()]
