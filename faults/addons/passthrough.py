"""The fast path for traffic no rule can touch (option ``fault_passthrough``, off).

With it on, a connection whose hosts no rule can select is relayed as bytes,
the way mitmproxy relays an ``ignore_hosts`` host: no TLS interception, no
HTTP parsing, no hooks, so it costs about what a TCP relay costs. Which
connections qualify and which host names they show: ``faults.wire.passthrough``.
"Can select": ``faults.plan.may_select_host`` over every rule (runtime, option,
plan file; TLS rules too, DNS rules never), decided per new connection and
remembered per host until the rules change (file reload, ``--set``, commands,
the control endpoint), so a plan change moves hosts in or out for the next
connections; a connection keeps the decision it started with.

Off by default because it changes what users see on those connections: they
are not in mitmweb's flow list, not annotated, not in ``fault_report`` and not
counted; and their bytes are relayed as sent (an ``x-fault`` or
``x-fault-token`` header is not stripped; a Host header not rewritten). Never
used while ``fault_header`` is on (any request may carry a fault), for the
control host, or on a Toxiproxy listener (its own relay).
"""

from __future__ import annotations

import logging

from mitmproxy import ctx

from faults import plan as planmod
from faults.memo import remember
from faults.wire import passthrough as wire

log = logging.getLogger(__name__)
MEMO_MAX = 4096  # hosts remembered per rule set


class FaultPassthrough:
    name = "faultpassthrough"

    def __init__(self, injector=None, toxiproxy=None):
        self.injector, self.toxiproxy = injector, toxiproxy  # handed over by FaultAddon
        self._memo: dict[tuple, bool] = {}
        self._stamp: tuple = ()
        self.passed = 0  # connections relayed as bytes

    def load(self, loader):
        loader.add_option(
            "fault_passthrough", bool, False,
            "Relay connections to hosts no fault rule can select as bytes (like ignore_hosts): no TLS "
            "interception, no HTTP parsing, no annotation, not in the report or mitmweb. Rules are asked "
            "per new connection; never while fault_header is on. The fast path for load tests.",
        )

    def next_layer(self, nextlayer):
        if not ctx.options.fault_passthrough or ctx.options.fault_header or wire.already_raw(nextlayer):
            return
        toxiproxy = self.toxiproxy
        if toxiproxy is not None and toxiproxy.listeners.is_ours(nextlayer.context.client):
            return
        names = wire.target(nextlayer, ctx.options.keep_host_header)
        if names is None:
            return
        if names is wire.MORE:
            wire.defer(nextlayer)
            return
        if self.selectable(names):
            return
        wire.relay(nextlayer, ctx.options.show_ignored_hosts)
        self.passed += 1

    def selectable(self, names: tuple[str, ...]) -> bool:
        """Whether any rule (or the control endpoint) can select a flow to ``names``."""
        if ctx.options.fault_control_host.lower() in names:
            return True
        injector = self.injector
        if injector is None:
            return True
        plans = (injector.runtime_plan, injector.option_plan, injector.file_plan)
        stamp = tuple((id(p), id(p.rules), len(p.rules)) for p in plans) + (planmod.generation(),)
        if stamp != self._stamp:
            self._memo, self._stamp = {}, stamp
        hit = self._memo.get(names)
        if hit is None:
            hit = remember(self._memo, names, planmod.may_select_host(injector.rules, names), MEMO_MAX)
            log.info(f"fault_passthrough: {', '.join(names)}: "
                     f"{'a rule may select it: intercepted' if hit else 'no rule can select it: relayed as bytes'}")
        return hit
