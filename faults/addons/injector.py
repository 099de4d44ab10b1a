"""The injector addon: pick a fault for each flow from the plan and apply it.

Options (all settable with ``--set``): ``fault_plan`` (YAML file, reloaded on
change), ``faults`` (``/filter/spec`` strings), ``fault_header`` (honour
``x-fault: <spec>`` request headers), ``fault_seed`` (seed for option rules).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from mitmproxy import ctx, exceptions, http
from mitmproxy.websocket import WebSocketData

from faults import plan as planmod, vocabulary as V
from faults.plan import limits
from faults.gates import clock
from faults.wire import servers, sockets, udpreturn
from faults.wire.act import WIRE_KEY, Act
from faults.addons.annotate import FAULT_KEY
from faults.addons.startup import one_line_at_start
from faults.vocabulary import CONTROL
from faults.addons.headers import is_connect, names as header_names
from faults.spec import SpecError

log = logging.getLogger(__name__)
HEADER = "x-fault"
_HEADER_B, _UPGRADE_B = HEADER.encode(), b"upgrade"
RELOAD_INTERVAL = 0.5


class FaultInjector:
    name = "faultinjector"

    def __init__(self, selectors=()):
        self.file_plan = planmod.Plan()
        self.option_plan = planmod.Plan()
        self.runtime_plan = planmod.Plan()  # set at runtime (commands, control endpoint): set_runtime_plan
        self._plan_sig: tuple | None = None
        self._watch: asyncio.Task | None = None
        self._active: dict[str, tuple[object, Act, planmod.Rule]] = {}
        self._stopping = asyncio.Event()
        self._started = False
        self._header_said = False
        self._h3_said: set[str] = set()  # rules whose HTTP/3 refusal was logged
        # callables flow -> Rule | None tried before every plan (a Toxiproxy
        # proxy's http toxics apply to its own listener's flows only)
        self.selectors: list = list(selectors)
        self.metrics = None  # faults.metrics.Metrics while option fault_metrics is on (set_metrics)
        # told when a rule becomes active on a flow (with the flow), and when the rules
        # change (FaultAddon hands over H2Frames.ensure and .rules_changed)
        self.on_start: list = []
        self.on_rules_changed: list = []

    # -- options -------------------------------------------------------------
    def load(self, loader):
        udpreturn.install()  # before any UDP server starts: a client back on its old UDP port is served
        loader.add_option(
            "fault_plan", Optional[str], None,
            "YAML fault plan: rules with match (a flow filter), fault (KIND key=value ..., or a list of them), "
            "optional name, probability (or a ramp 0.2..0.5), first, every, window (30s..90s), requests (100..400), "
            "max_active; top-level seed. Reloaded when the file changes.",
        )
        loader.add_option(
            "faults", Sequence[str], [],
            'Fault rules as "/flow-filter/fault-spec" (separator: any non-alphanumeric first '
            'character; no separator: every flow), e.g. "|~u /api|status code=503 retry_after=2". '
            "Inline name=, probability=, first=, every=, window=, requests=, max_active= are allowed; "
            "several faults on one request join with ' + ' (delay ms=200 + status code=503).",
        )
        loader.add_option(
            "fault_header", bool, False,
            f"Apply the fault spec in a request's {HEADER!r} header to that request "
            "(and strip the header). Off by default: anyone who can reach the proxy could inject faults.",
        )
        loader.add_option("fault_seed", Optional[int], None, "Seed for the draws of rules from the faults option.")

    @one_line_at_start
    def configure(self, updated):
        if "fault_plan" in updated:
            path = ctx.options.fault_plan
            if path:
                try:
                    self.file_plan = planmod.load_file(path)
                except SpecError as e:
                    raise exceptions.OptionsError(f"fault_plan: {e}") from None
                self._plan_sig = _signature(path)
                _stamp(self.file_plan, self._plan_sig)
            else:
                self.file_plan, self._plan_sig = planmod.Plan(), None
        if "faults" in updated or "fault_seed" in updated:
            seed = ctx.options.fault_seed
            if len(ctx.options.faults) > limits.MAX_RULES:
                raise exceptions.OptionsError(f"faults: {len(ctx.options.faults)} entries (the limit is {limits.MAX_RULES})")
            try:
                rules = [planmod.rule_from_option(s, i, seed) for i, s in enumerate(ctx.options.faults)]
            except SpecError as e:
                raise exceptions.OptionsError(str(e)) from None
            self.option_plan = planmod.Plan(rules, seed).warm()
        if {"fault_plan", "faults", "fault_seed"} & set(updated):
            self._rules_changed()

    def set_metrics(self, metrics) -> None:
        """``FaultMetrics`` attaches its ``faults.metrics.Metrics`` (None: off)."""
        self.metrics = metrics

    def set_runtime_plan(self, plan: planmod.Plan) -> None:
        """The rules set at runtime (``FaultControl``: commands, the control endpoint)."""
        self.runtime_plan = plan
        self._rules_changed()

    def _rules_changed(self) -> None:
        for listener in self.on_rules_changed:
            listener()

    @property
    def rules(self) -> list[planmod.Rule]:
        """Every rule, in selection order: runtime, then option, then plan file."""
        return self.runtime_plan.rules + self.option_plan.rules + self.file_plan.rules

    def rules_for(self, level: str) -> list[planmod.Rule]:
        return [r for r in self.rules if r.fault.level == level]

    # -- plan reload ---------------------------------------------------------
    def running(self):
        self._started = True
        self._stopping = asyncio.Event()
        if self._watch is None:
            self._watch = asyncio.get_running_loop().create_task(self._watch_plan())

    async def _watch_plan(self):
        while True:
            await asyncio.sleep(RELOAD_INTERVAL)
            try:
                await self.check_plan()
            except Exception as e:  # whatever happens, one bad edit never stops reload for good
                log.error(f"fault plan watcher: {e!r} (still watching)")

    async def check_plan(self) -> None:
        """Reload the plan file if it changed. Refusals and a vanished file are
        logged at ERROR: ``mitmdump -q`` shows only errors (termlog_verbosity=error)."""
        path = ctx.options.fault_plan
        if not path:
            return
        sig = _signature(path)
        if sig == self._plan_sig:
            return
        self._plan_sig = sig
        kept = f"keeping the last good plan ({len(self.file_plan.rules)} rule(s))"
        if sig is None:
            log.error(f"fault plan {path} is gone: {kept}; it loads again when the file is back")
            return
        try:  # in a thread: a big plan (10,000 rules: seconds) must not freeze traffic
            loaded = await asyncio.to_thread(planmod.load_file, path)
        except SpecError as e:
            log.error(f"fault plan not reloaded, {kept}: {e}")
        else:
            if ctx.options.fault_plan != path:  # a --set replaced the plan meanwhile
                return
            self.file_plan = _stamp(loaded, sig)
            self._rules_changed()
            log.info(f"fault plan reloaded: {len(self.file_plan.rules)} rule(s) from {path}")

    async def done(self):
        """Release held flows (hang, delay), close open client connections and stop the
        proxy servers before mitmproxy's loop ends, so shutdown is clean (no crash: see
        faults.wire.servers) and every held flow is reported (as released at shutdown)."""
        self._stopping.set()
        if self._watch:
            self._watch.cancel()
            self._watch = None
        deadline = asyncio.get_running_loop().time() + 2.0
        while self._active and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        if not servers.exiting():
            return  # a script reload, not the proxy's exit: its connections and servers go on
        await sockets.close_clients()
        await servers.stop_servers()

    # -- selection -----------------------------------------------------------
    def _plans(self) -> list[planmod.Plan] | tuple:
        """The plans with rules, in selection order (an empty plan is not asked)."""
        runtime, option, file = self.runtime_plan, self.option_plan, self.file_plan
        if not (runtime.rules or option.rules):  # asked four times per request: the usual cases build one tuple
            return (file,) if file.rules else ()
        return [p for p in (runtime, option, file) if p.rules]

    def _select(self, flow: http.HTTPFlow) -> planmod.Rule | None:
        present = header_names(flow.request.headers)
        if _HEADER_B in present:
            value = flow.request.headers.pop(HEADER)  # never forwarded upstream, on or off
            if not ctx.options.fault_header:
                self._header_ignored()
            else:
                try:
                    return planmod.rule_from_header(value)
                except SpecError as e:
                    msg = f"invalid {HEADER} header: {e}\n"
                    flow.response = http.Response.make(400, msg, {"content-type": "text/plain"})
                    flow.metadata["fault_header_error"] = str(e)
                    return None
        # mitmproxy sets flow.websocket only with the 101; so that ``~websocket``
        # selects an upgrade request, it is set for the selection only.
        plans = self._plans()
        if not plans and not self.selectors:
            return None
        upgrade = flow.websocket is None and _UPGRADE_B in present \
            and flow.request.headers.get("upgrade", "").lower() == "websocket"
        if upgrade:
            flow.websocket = WebSocketData()
        try:
            for select in self.selectors:
                rule = select(flow)
                if rule is not None:
                    return rule
            # Each plan keeps a per-host index, so rules that cannot match this
            # host (a ~d for another one) cost nothing (see bench/README.md).
            for plan in plans:
                rule = plan.select(flow, level="flow")
                if rule is not None:
                    return rule
            return None
        finally:
            if upgrade:
                flow.websocket = None

    def _select_head(self, flow: http.HTTPFlow) -> planmod.Rule | None:
        """At the request head: rules whose fault acts while the body arrives (an
        upload cut, an early status, a paced upload). An ``x-fault`` header naming
        such a fault is taken now; any other header is left for ``request``."""
        if _HEADER_B in header_names(flow.request.headers) and ctx.options.fault_header:
            try:
                rule = planmod.rule_from_header(flow.request.headers[HEADER])
            except SpecError:
                return None  # ``request`` answers it with a 400
            if rule.fault.level != "request_head":
                return None
            flow.request.headers.pop(HEADER)
            return rule
        for plan in self._plans():
            rule = plan.select(flow, level="request_head")  # one set lookup when no rule acts at the head
            if rule is not None:
                return rule
        return None

    def _header_ignored(self) -> None:
        """Said once: a client that sends x-fault to a proxy with fault_header
        off would otherwise see no fault and no reason."""
        if not self._header_said:
            self._header_said = True
            log.info(f"{HEADER} request header stripped, not applied: fault_header is off "
                     "(--set fault_header=true to apply it); said once")

    # -- hooks ---------------------------------------------------------------
    # ``request`` and ``response`` are plain methods that return a coroutine
    # only when a fault has work to do (mitmproxy awaits what a hook returns):
    # unselected flows never pay for creating and awaiting one.
    def requestheaders(self, flow: http.HTTPFlow):
        if flow.response or flow.error or not flow.live or is_connect(flow) \
                or flow.metadata.get(CONTROL):  # the control endpoint's own request (faults.addons.control)
            return
        if clock.t0 is None:
            self._start_clock(flow)
        rule = self._select_head(flow)
        if rule is None:
            return
        if not self._start(flow, rule):
            return
        entry = self._active[flow.id]
        hook = getattr(entry[0], "requestheaders", None)
        if hook:
            self._guard(flow, lambda: hook(flow, entry[1]))

    @staticmethod
    def _start_clock(flow: http.HTTPFlow) -> None:
        """t0 is the first request of the traffic: not one to the control endpoint
        (setting the rules up before a load test does not start its clock)."""
        from faults.addons.control.endpoint import is_control_host

        if not is_control_host(flow, ctx.options.fault_control_host):
            clock.start(flow.request.timestamp_start)

    def _start(self, flow: http.HTTPFlow, rule: planmod.Rule, decided_at: str = "request") -> bool:
        """Make the rule's fault active on this flow; False when it has no HTTP/3
        meaning and the flow is HTTP/3 (not faulted: the record says why)."""
        flow.metadata[FAULT_KEY] = {"rule": rule.label, "spec": rule.spec.text, "kind": rule.spec.kind}
        why = rule.fault.h3_refusal() if flow.request.http_version == "HTTP/3" else None
        if why:
            flow.metadata.setdefault(WIRE_KEY, {})["h3_refused"] = why
            rule.release()  # it does not act on this flow: its max_active slot is free again
            if rule.spec.text not in self._h3_said:
                self._h3_said.add(rule.spec.text)
                log.warning(f"fault {rule.spec.text!r} not applied to HTTP/3 flows: {why} (said once per rule)")
            return False
        for listener in self.on_start:  # e.g. the connection gets the frame-capable layer
            listener(flow)
        act = Act(flow, self._stopping, rule.rng)
        act.decided_at = decided_at
        if rule.timing is not None and rule.timing.max_active is not None:  # faulted flows only
            act.record(max_active_taken_t=round(clock.now(), 6))  # the slot its rule's select took
        self._active[flow.id] = (rule.fault, act, rule)
        if self.metrics is not None:
            self.metrics.started(flow.id, rule.label)
        return True

    def _drop(self, flow_id: str):
        """The flow is over for its fault: forget it, and free its rule's max_active slot."""
        entry = self._active.pop(flow_id, None)
        if entry is not None:
            rule = entry[2]
            rule.release()
            if rule.timing is not None and rule.timing.max_active is not None:
                entry[1].record(max_active_released_t=round(clock.now(), 6))
        return entry

    def request(self, flow: http.HTTPFlow):
        if flow.id in self._active:  # chosen at the request head
            return self._run(flow, "request")
        if flow.response or flow.error or not flow.live or is_connect(flow):
            return None
        rule = self._select(flow)
        if rule is None:
            return None
        if not self._start(flow, rule):
            return None
        return self._run(flow, "request")

    def responseheaders(self, flow: http.HTTPFlow):
        entry = self._active.get(flow.id)
        if entry is None:
            entry = self._select_response(flow)
        hook = getattr(entry[0], "responseheaders", None) if entry else None
        if hook:
            self._guard(flow, lambda: hook(flow, entry[1]))

    def _select_response(self, flow: http.HTTPFlow, level: str = "response"):
        """Rules whose filter reads the response: at the upstream's response head
        (``~c 500``, ``~hs``, ...), or (``response_body``, ``~bs``) once its whole body is
        in. The fault acts from there: its ``responseheaders`` at the head, its
        ``request`` (what it does instead of the answer: another status, a reset, a
        delay) and ``response`` once the body is in. The entry, or None."""
        if flow.error or not flow.live or is_connect(flow) or flow.metadata.get(V.CONTROL):
            return None
        for plan in self._plans():
            rule = plan.select(flow, level=level)  # one set lookup when no rule reads the response
            if rule is not None:
                return self._active[flow.id] if self._start(flow, rule, decided_at="response") else None
        return None

    def response(self, flow: http.HTTPFlow):
        if flow.id not in self._active and self._select_response(flow, "response_body") is None:
            return None
        return self._finish(flow)

    async def _finish(self, flow):
        entry = self._active.get(flow.id)
        if entry is not None and entry[1].decided_at == "response":
            await self._run(flow, "request")  # the upstream's answer is in, not yet sent
            if flow.error is not None:  # it ended the flow (a reset instead of the answer)
                self._drop(flow.id)
                return
        await self._run(flow, "response")
        if flow.websocket is None:  # a WebSocket session's fault acts on its messages next
            self._drop(flow.id)

    def error(self, flow: http.HTTPFlow):
        entry = self._drop(flow.id)
        if entry and flow.metadata.get("fault_wire", {}).get("throttled_request_bytes_per_s"):
            entry[1].unthrottle_reads()  # the upload ended early: the connection reads at full speed again

    def websocket_message(self, flow: http.HTTPFlow):
        if flow.id not in self._active:
            return None
        return self._run(flow, "websocket_message")

    def websocket_end(self, flow: http.HTTPFlow):
        self._drop(flow.id)

    def client_disconnected(self, client):
        if self._started:
            sockets.close_leftovers(client)

    async def _run(self, flow, name: str):
        entry = self._active.get(flow.id)
        hook = getattr(entry[0], name, None) if entry else None
        if hook is None:
            return
        try:
            await hook(flow, entry[1])
        except Exception as e:  # a fault must never take the connection down with a traceback
            self._failed(flow, e)

    def _guard(self, flow, fn):
        try:
            fn()
        except Exception as e:
            self._failed(flow, e)

    def _failed(self, flow, e: Exception):
        log.error(f"fault {flow.metadata.get(FAULT_KEY, {}).get('spec')!r} failed on {flow.request.pretty_url}: {e!r}")
        flow.metadata["fault_failed"] = repr(e)


def _stamp(plan: planmod.Plan, sig) -> planmod.Plan:
    """Name the plan file's version in its rules' global-gate counts: every worker
    reloads the same file (same signature), and an edited plan counts afresh."""
    for rule in plan.rules:
        rule.epoch = f"file:{sig}"
    return plan


def _signature(path) -> tuple | None:
    """What tells a changed file: mtime (ns), size, inode (a replace by rename
    keeps the size and may keep the mtime tick), ctime (a chmod that makes an
    unreadable plan readable again). None when it cannot be stat'ed."""
    try:
        st = Path(path).expanduser().stat()
    except (OSError, ValueError):
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino, st.st_dev, st.st_ctime_ns
