"""Benchmark-only variant of addons/errors.py: the injector selects through
``Plan.select(flow, level="flow")`` (the host index in faults/plan.py) instead of
iterating ``rules_for("flow")``. Used by bench/run.py to show what that
one-method change in faults/addons/injector.py would buy; not used anywhere else."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mitmproxy import ctx  # noqa: E402

from faults.addons.annotate import Classifier  # noqa: E402
from faults.addons.injector import HEADER, FaultInjector  # noqa: E402


class IndexedInjector(FaultInjector):
    def _select(self, flow):
        if ctx.options.fault_header and HEADER in flow.request.headers:
            return super()._select(flow)
        for plan in (self.runtime_plan, self.option_plan, self.file_plan):
            rule = plan.select(flow, level="flow")
            if rule is not None:
                return rule
        return None


addons = [IndexedInjector(), Classifier()]
