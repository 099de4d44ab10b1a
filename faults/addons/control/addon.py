"""``FaultControl``, the addon: its options, its commands, and the endpoint's hooks.

The commands and the endpoint both change the runtime rules through one change
log (``changes``) and answer from the same rules and counters (``rules``); the
endpoint's routing is ``endpoint``'s job.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import mitmproxy.types
from mitmproxy import command, exceptions, http

from faults import plan as planmod
from faults.addons import succession
from faults.addons.control.changes import Changes, t0_of
from faults.addons.control.endpoint import CONTROL_HOST, TOKEN_HEADER, Endpoint
from faults.addons.control.rules import describe_rules, stats
from faults.addons.expectations import Expectations


class FaultControl:
    name = "faultcontrol"

    def __init__(self, injector=None, classifier=None, status=None, workers=None):
        # what it works on, handed over by FaultAddon (None: not loaded; tests build parts alone)
        self.classifier, self.status = classifier, status
        self.expect = Expectations(classifier)  # /expect and /flows (faults/addons/expectations.py)
        # the injector's runtime rules, changed here and on sibling workers; /expect looks at
        # the flows since the rules last changed
        self.changes = Changes(injector, workers, on_rules=self.expect.clear)
        self.endpoint = Endpoint(self.changes, self.expect, self._stats)
        self._replaces = None  # set at load

    def load(self, loader):
        self._replaces = succession.take_over(self)  # a script reload: the addon whose rules go on here
        loader.add_option(
            "fault_control", bool, False,
            f"Serve the fault control endpoint at http://{CONTROL_HOST}/ (through this proxy). "
            "Off by default; changes need fault_control_token.",
        )
        loader.add_option(
            "fault_control_token", str, "",
            f"Token required to change faults through the control endpoint "
            f"('Authorization: Bearer TOKEN' or '{TOKEN_HEADER}: TOKEN'). Empty: no change is accepted.",
        )
        loader.add_option(
            "fault_control_host", str, CONTROL_HOST, "Reserved host name of the fault control endpoint.",
        )

    def configure(self, updated):
        self.endpoint.configure(updated)
        if "fault_control" in updated:
            self.expect.listen()

    def running(self):
        if self._replaces is not None:  # a script reload: the rules and the records /expect reads go on
            self.changes.carry(self._replaces.changes)
            self.expect.carry(self._replaces.expect)
            self._replaces = None
        self.expect.listen()

    def done(self):
        self.expect.stop()

    def apply_change(self, msg: dict, rules: list[planmod.Rule] | None = None) -> None:
        """Apply one change message, a sibling worker's too (``faults.addons.control.changes``)."""
        self.changes.apply(msg, rules)

    def _stats(self) -> dict:
        return stats(self.changes.injector_or_refuse(), self.classifier, self.status)

    # -- the endpoint's hooks ----------------------------------------------------
    def idle_hooks(self) -> set[str]:
        """Off and without a token (the default), the endpoint answers nothing and strips
        nothing: ``FaultAddon`` does not call its hooks (``dispatch_table``)."""
        return set() if self.endpoint.on or self.endpoint.token else {"requestheaders", "request"}

    def requestheaders(self, flow: http.HTTPFlow):
        return self.endpoint.requestheaders(flow)

    def request(self, flow: http.HTTPFlow):
        return self.endpoint.request(flow)

    # -- commands ----------------------------------------------------------------
    @command.command("faults.set")
    def cmd_set(self, *specs: str) -> None:
        """Replace the runtime fault rules with "/filter/spec" strings (validated like the faults option)."""
        self.changes.command({"op": "set", "specs": list(specs)})

    @command.command("faults.add")
    def cmd_add(self, *specs: str) -> None:
        """Append "/filter/spec" rules to the runtime fault rules."""
        self.changes.command({"op": "add", "specs": list(specs)})

    @command.command("faults.load")
    def cmd_load(self, path: mitmproxy.types.Path) -> None:
        """Replace the runtime fault rules with a YAML plan file."""
        self.changes.command({"op": "set", "load": str(path)})

    @command.command("faults.clear")
    def cmd_clear(self) -> None:
        """Drop every runtime fault rule (option and plan-file rules stay)."""
        self.changes.command({"op": "clear"})

    @command.command("faults.list")
    def cmd_list(self) -> Sequence[str]:
        """Every fault rule in selection order: runtime, option, plan file."""
        return [
            f"{r['source']:7} {r['label']}: {r['match'] or '*'} -> {r['fault']} "
            f"(matched {r['matched']}, applied {r['applied']}"
            + (f", over max_active {r['over_max_active']}" if "over_max_active" in r else "") + ")"
            for r in describe_rules(self.changes.injector_or_refuse())
        ]

    @command.command("faults.t0")
    def cmd_t0(self, *when: str) -> str:
        """Set the run's t0 (windows and ramps count from it): now; "SECONDS": the run is that many
        seconds old now; "next": unset, the next request sets it. Returns t0 as unix time."""
        try:
            t0 = t0_of(when[0] if when else "")
        except ValueError as e:
            raise exceptions.CommandError(str(e)) from None
        self.changes.set_t0(t0)
        return json.dumps({"t0": t0})

    @command.command("faults.stats")
    def cmd_stats(self) -> str:
        """Rule counters and k6 error codes seen so far, as JSON."""
        return json.dumps(self._stats(), sort_keys=True)
