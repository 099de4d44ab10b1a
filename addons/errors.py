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


class FaultProxy:
    """One top-level addon whose children are the components, called in this order:
    FaultControl first (it answers requests to the control host before any fault
    applies), the injector before the classifier (which reads what a fault did),
    FaultStatus last (it reads what the classifier wrote).

    Children rather than six top-level addons because mitmproxy's dispatch costs
    about 15-20 us per top-level addon per HTTP exchange, even for hooks an addon
    does not have; children share one dispatch (bench/README.md). They are still
    registered: options, commands and ``ctx.master.addons.get(name)`` work."""

    def __init__(self):
        self.addons = [FaultControl(), FaultInjector(), TlsFaults(), H2Frames(), Classifier(), FaultStatus()]


addons = [FaultProxy()]
