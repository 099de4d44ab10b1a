"""Runtime control of the fault rules: mitmproxy commands and an HTTP endpoint.

Both work on the injector's ``runtime_plan`` (tried before the ``faults``
option and the plan file) and validate exactly like the plan: option-style
``/filter/spec`` strings go through ``plan.rule_from_option``, YAML plans
through ``plan.load_yaml``. Rules set at runtime are seeded with the plan's
own ``seed`` or else the ``fault_seed`` option, so with a seed the same
requests get the same faults however often the rules change.

Commands (mitmproxy console, mitmweb's command bar or ``POST /commands/...``)::

    faults.set  "/~u /api/status code=503" ...   replace the runtime rules (one argument per rule)
    faults.add  "/~u /api/status code=503" ...   append runtime rules
    faults.load plan.yaml                        replace them with a YAML plan
    faults.clear                                 drop every runtime rule
    faults.list                                  every rule (runtime, option, file)
    faults.stats                                 rules' counters and k6 codes seen
    faults.t0 [SECONDS|next]                     the run's t0 (faults.gates): now (the run is
                                                 SECONDS old now), or unset (the next request sets it)

HTTP endpoint (option ``fault_control``, off by default), served by the proxy
itself for requests to the reserved host ``faults.control`` (option
``fault_control_host``), like mitmproxy's ``mitm.it``. Through a regular proxy
use the proxy (``curl -x``); through a reverse proxy send ``Host: faults.control``
(mitmproxy rewrites the Host header unless ``keep_host_header``, but the name the
client sent is kept and recognised, ``faults.plan.client_host``)::

    GET    /            rules and stats          GET /rules, GET /stats
    POST   /rules       replace runtime rules    (?append=1 to add)
    DELETE /rules       clear runtime rules      (also POST /clear)
    GET    /expect      ?code=&count=&fault=&url=&client=&error=&timeout= (also POST):
                        200 with the matching flows when met, 417 with the
                        explanation when not (faults/expect.py, as the pytest
                        fixture's expect); waits up to timeout s (default 5)
    GET    /flows       the report records kept for /expect
    GET    /t0          the run's t0 (unix time) and seconds since (t)
    POST   /t0          t0 = now (?t=SECONDS: the run is that old now); DELETE /t0: the
                        next request sets it. Windows and ramps (faults.gates) count from t0.
    DELETE /flows       forget them (so does every change of the runtime rules)

POST bodies: ``text/plain`` one ``/filter/spec`` per line; ``application/yaml``
a plan (``seed:``/``rules:``); ``application/json`` ``{"faults": [...]}``,
``{"plan": "<yaml>"}`` or a list of strings. With a token set
(``fault_control_token``) every request needs it, reads too (the seed makes
the draws predictable), as ``Authorization: Bearer TOKEN`` or
``x-fault-token: TOKEN``: without it 403. With no token set reads are open and
changes are refused (403). A malformed command gets 400 naming what is wrong;
no value gives a 500 (numbers: ``faults.numbers``). A refusal that the request's
head decides (token, path, method, a Content-Length over 4 MiB) is answered at the
head and its body dropped as it arrives, never buffered. A rule set over 64 kB is
parsed in a thread and applied on the loop in one step.

With the endpoint off, its host is proxied like any other. The token never leaves:
a request carrying it that the endpoint does not answer (off, or addressed
elsewhere) gets 421; the ``x-fault-token`` header is stripped from every forwarded
request. (docs/hostile-inputs.md)
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import Sequence
from urllib.parse import parse_qs

import mitmproxy.types
from mitmproxy import command, ctx, exceptions, http

from faults import numbers, plan as planmod, vocabulary, worker
from faults.gates import clock
from faults.addons.expectations import Expectations, Pending
from faults.addons.headers import names as header_names
from faults.spec import SpecError

log = logging.getLogger(__name__)
CONTROL_HOST = "faults.control"
TOKEN_HEADER = "x-fault-token"
_TOKEN_B = TOKEN_HEADER.encode()
CONTROL_KEY = vocabulary.CONTROL  # flow.metadata marker for control requests
# A rule set in a body larger than this is parsed in a thread (10,000 rules: ~300 kB,
# seconds of parsing); a smaller one (milliseconds) is parsed and applied at once.
OFF_LOOP_BYTES = 64 * 1024


# -- the shared logic ---------------------------------------------------------

def build_rules(specs: Sequence[str], seed=None) -> list[planmod.Rule]:
    """Option-style rule strings -> rules, validated like the ``faults`` option."""
    if len(specs) > planmod.MAX_RULES:
        raise SpecError(f"{len(specs)} rules (the limit is {planmod.MAX_RULES})", "runtime rules")
    rules = []
    for i, text in enumerate(specs):
        try:
            rule = planmod.rule_from_option(text, i, seed)
        except SpecError as e:
            raise SpecError(e.reason, f"runtime rule {i} ({planmod.short(text.strip())!r})") from None
        rule.where = f"runtime rule {i} ({planmod.short(text.strip())!r})"
        rules.append(rule)
    return rules


def build_plan(yaml_text: str, source: str, seed=None) -> list[planmod.Rule]:
    """A YAML plan -> rules; its own ``seed`` wins, else ``seed``."""
    return seeded(planmod.load_yaml(yaml_text, source), seed)


def seeded(plan: planmod.Plan, seed=None) -> list[planmod.Rule]:
    """The plan's rules, reseeded with ``seed`` when the plan has none of its own."""
    if plan.seed is None and seed is not None:
        for rule in plan.rules:
            rule.reseed(seed)
    return plan.rules


def is_control_host(flow: http.HTTPFlow, host: str) -> bool:
    """The request's target (regular mode) or its Host header (reverse mode with
    ``keep_host_header``, where the target is the fixed upstream) is the reserved name.
    Read through the plans' per-flow host key: the Host header is parsed once per request."""
    host = host.lower()
    return any(name.lower() == host for name in planmod.host_key(flow))


def looks_like_yaml_plan(text: str) -> bool:
    stripped = text.lstrip()
    return stripped.startswith(("seed:", "rules:", "- ", "-\n", "{", "---"))


def describe_rules(injector) -> list[dict]:
    out = []
    for source, plan in (("runtime", injector.runtime_plan), ("option", injector.option_plan),
                         ("file", injector.file_plan)):
        for rule in plan.rules:
            out.append({"source": source, "label": rule.label, **rule.describe()})
    return out


def stats(injector, classifier=None, status=None) -> dict:
    keys = ("source", "label", "fault", "matched", "applied", "active", "over_max_active")  # the last two: max_active
    out: dict = {"rules": [{k: r[k] for k in keys if k in r} for r in describe_rules(injector)]}
    if classifier is not None:
        out["codes"] = {str(k): v for k, v in sorted(classifier.codes.items(), key=lambda kv: str(kv[0]))}
    if status is not None:
        out["flows"], out["faulted"] = status.flows, status.faulted
    return out


class FaultControl:
    name = "faultcontrol"

    def __init__(self, injector=None, classifier=None, status=None, workers=None):
        # what it works on, handed over by FaultAddon (None: not loaded; tests build parts alone)
        self.injector, self.classifier, self.status, self.workers = injector, classifier, status, workers
        # the runtime rules as changes: the newest replace (set/clear; its seq and rules) and
        # the additions numbered after it, kept in seq order (see apply_change)
        self._base: tuple[int, list] = (0, [])
        self._adds: list[tuple[int, list]] = []
        self.expect = Expectations(classifier)  # /expect and /flows (faults/addons/expectations.py)

    def load(self, loader):
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
        if "fault_control" in updated:
            self.expect.listen()

    def running(self):
        self.expect.listen()

    def done(self):
        self.expect.stop()

    # -- helpers -----------------------------------------------------------------
    def _injector(self):
        inj = self.injector
        if inj is None:
            raise exceptions.CommandError("the fault injector addon is not loaded")
        return inj

    @staticmethod
    def _seed():
        return ctx.options.fault_seed

    def _replace(self, rules: list[planmod.Rule], append: bool = False, seq: int = 0) -> None:
        inj = self._injector()
        for rule in rules:  # a global gate counts afresh for every change (faults.counter)
            rule.epoch = f"runtime:{seq}"
        if append:
            self._adds = sorted(self._adds + [(seq, rules)], key=lambda a: a[0])
        else:
            self._base, self._adds = (seq, rules), [a for a in self._adds if a[0] > seq]
        new = self._base[1] + [r for _, added in self._adds for r in added]
        inj.set_runtime_plan(planmod.Plan(new, self._seed()))
        self.expect.clear()  # /expect looks at the flows since the rules changed
        log.info(f"runtime fault rules: {len(new)} ({'added' if append else 'set'} {len(rules)})")

    def _stats(self) -> dict:
        return stats(self._injector(), self.classifier, self.status)

    # -- changes, and their fan-out to sibling workers ------------------------------
    # A change is a message: {"op": "set"|"add"|"clear", "specs": [...]} (option-style
    # rules), {"yaml": "<plan>"} or {"load": "<path>"} instead of specs, and a "seq".
    # It is applied here, then sent to every sibling worker (faults.fanout), which
    # applies the same message: same rules, same seeds, same global-gate counts.
    # "seq" numbers changes across workers (the shared counter). The runtime rules are
    # the newest set/clear plus every addition numbered after it, in seq order, so two
    # changes sent at once through two workers end the same on every worker, whatever
    # order each worker saw them in (a change older than the set/clear in force is moot).
    def apply_change(self, msg: dict, rules: list[planmod.Rule] | None = None) -> None:
        """Apply one change message (raises SpecError for a bad one); ``rules``: the
        message's rules when the caller built them already."""
        seed, op = self._seed(), msg["op"]
        if op == "t0":  # the run's clock, set by a sibling (which wrote the shared t0 file)
            clock.set(msg["t0"], shared=False)
            return
        seq = msg.get("seq", 0)
        if seq and seq < self._base[0]:
            log.info(f"runtime fault change {seq} skipped: the rules were replaced by change {self._base[0]} since")
            return
        if rules is None:
            rules = self._rules_of(msg, seed)
        self._replace(rules, append=op == "add", seq=seq)

    @staticmethod
    def _rules_of(msg: dict, seed) -> list[planmod.Rule]:
        if msg["op"] == "clear":
            return []
        if "yaml" in msg:
            return build_plan(msg["yaml"], msg.get("source", "control request"), seed)
        if "load" in msg:  # load_file: missing, a directory, too big, not UTF-8 are all one-line errors
            return seeded(planmod.load_file(msg["load"]), seed)
        return build_rules(msg["specs"], seed)

    @staticmethod
    def _stamped(msg: dict) -> dict:
        return {**msg, "seq": worker.counter().next("runtime changes")}

    def _change(self, msg: dict) -> None:
        """A command's change: here at once, siblings within milliseconds (a
        command cannot wait; the control endpoint does)."""
        msg = self._stamped(msg)
        try:
            self.apply_change(msg)
        except SpecError as e:
            raise exceptions.CommandError(str(e)) from None
        workers = self.workers
        if workers is not None and ctx.options.fault_worker_dir:
            asyncio.get_running_loop().create_task(self._fan_out(workers, msg))

    @staticmethod
    async def _fan_out(workers, msg: dict) -> list[str]:
        errors = await workers.broadcast(msg)
        for e in errors:
            log.error(f"fault control: a sibling worker did not apply the change: {e}")
        return errors

    # -- commands ----------------------------------------------------------------
    @command.command("faults.set")
    def cmd_set(self, *specs: str) -> None:
        """Replace the runtime fault rules with "/filter/spec" strings (validated like the faults option)."""
        self._change({"op": "set", "specs": list(specs)})

    @command.command("faults.add")
    def cmd_add(self, *specs: str) -> None:
        """Append "/filter/spec" rules to the runtime fault rules."""
        self._change({"op": "add", "specs": list(specs)})

    @command.command("faults.load")
    def cmd_load(self, path: mitmproxy.types.Path) -> None:
        """Replace the runtime fault rules with a YAML plan file."""
        self._change({"op": "set", "load": str(path)})

    @command.command("faults.clear")
    def cmd_clear(self) -> None:
        """Drop every runtime fault rule (option and plan-file rules stay)."""
        self._change({"op": "clear"})

    @command.command("faults.list")
    def cmd_list(self) -> Sequence[str]:
        """Every fault rule in selection order: runtime, option, plan file."""
        return [
            f"{r['source']:7} {r['label']}: {r['match'] or '*'} -> {r['fault']} "
            f"(matched {r['matched']}, applied {r['applied']}"
            + (f", over max_active {r['over_max_active']}" if "over_max_active" in r else "") + ")"
            for r in describe_rules(self._injector())
        ]

    @command.command("faults.t0")
    def cmd_t0(self, *when: str) -> str:
        """Set the run's t0 (windows and ramps count from it): now; "SECONDS": the run is that many
        seconds old now; "next": unset, the next request sets it. Returns t0 as unix time."""
        try:
            t0 = self._t0_of(when[0] if when else "")
        except ValueError as e:
            raise exceptions.CommandError(str(e)) from None
        self._set_t0(t0)
        return json.dumps({"t0": t0})

    @staticmethod
    def _t0_of(text: str) -> float | None:
        text = text.strip().lower()
        if text == "next":
            return None
        try:  # SECONDS, the run's age now: faults.numbers' rules (ASCII digits, bounded)
            ago = numbers.real(text or "0", "t0", 0, 30 * 86400)
        except SpecError as e:
            raise ValueError(f"{e}: expected SECONDS from 0 to {30 * 86400} (the run's age now) or next") from None
        return time.time() - ago

    def _set_t0(self, t0: float | None) -> dict:
        """Here and in the shared file at once; the change message for sibling workers."""
        clock.set(t0)
        msg = {"op": "t0", "t0": t0}
        workers = self.workers
        if workers is not None and ctx.options.fault_worker_dir:
            asyncio.get_running_loop().create_task(self._fan_out(workers, msg))
        return msg

    @command.command("faults.stats")
    def cmd_stats(self) -> str:
        """Rule counters and k6 error codes seen so far, as JSON."""
        return json.dumps(self._stats(), sort_keys=True)

    # -- HTTP endpoint -------------------------------------------------------
    ROUTES = {"/": ("GET",), "/rules": ("GET", "POST", "PUT", "DELETE"), "/stats": ("GET",), "/clear": ("POST",),
              "/expect": ("GET", "POST"), "/flows": ("GET", "DELETE"), "/t0": ("GET", "POST", "DELETE")}

    @staticmethod
    def _addressed(flow: http.HTTPFlow) -> bool:
        """A request for the endpoint: it is on and the request names its host (off,
        the control host is proxied like any other host)."""
        return ctx.options.fault_control and is_control_host(flow, ctx.options.fault_control_host)

    def requestheaders(self, flow: http.HTTPFlow):
        """Recognise the endpoint's requests at their head, and answer a refused one
        there (no token, wrong path or method, too big): its body is then read off the
        wire and dropped by the HTTP layer (``vocabulary.DISCARD_BODY``), never buffered."""
        if flow.response or flow.error or flow.request.method == "CONNECT" or not self._addressed(flow):
            return
        flow.metadata[CONTROL_KEY] = True
        refusal = self._refusal(flow.request)
        if refusal is not None:
            flow.metadata[vocabulary.DISCARD_BODY] = True
            flow.response = _json_response(*refusal)

    def request(self, flow: http.HTTPFlow):
        if flow.response or flow.error or flow.request.method == "CONNECT":
            return
        req = flow.request
        if flow.metadata.get(CONTROL_KEY) or self._addressed(flow):
            flow.metadata[CONTROL_KEY] = True
            if self._parses_rules(req) and len(req.raw_content or b"") > OFF_LOOP_BYTES \
                    and self._refusal(req) is None:
                return self._replace_off_loop(flow)  # a big rule set must not stall the other flows
            return self._answer(flow, *self._serve(req))
        if self._carries_token(req):
            # e.g. reverse mode without keep_host_header: the Host header was
            # rewritten to the upstream's before any hook, so only the token
            # shows this was meant for the endpoint; never forward it
            flow.metadata[CONTROL_KEY] = True
            return self._answer(flow, 421, {
                "error": "this request carries the fault control token but is not addressed to "
                         f"{ctx.options.fault_control_host}; not forwarded (is the endpoint on? "
                         "--set fault_control=true)"})
        if _TOKEN_B in header_names(req.headers):
            req.headers.pop(TOKEN_HEADER, None)  # ours, never the upstream's

    def _answer(self, flow, status: int, body):
        """Respond; a change is sent to the sibling workers first (when there are any)."""
        change = body.pop("_change", None) if isinstance(body, dict) else None
        workers = self.workers if change else None
        if workers is not None and ctx.options.fault_worker_dir:
            return self._answer_after_fan_out(flow, workers, status, body, change)
        flow.response = _json_response(status, body)
        if isinstance(body, Pending):  # /expect not met yet: answered when met or at its deadline
            self.expect.defer(flow, body, _json_response)
        return None

    async def _answer_after_fan_out(self, flow, workers, status: int, body: dict, change: dict) -> None:
        """200 only once every sibling worker applied the change too."""
        errors = await self._fan_out(workers, change)
        if errors:
            status, body = 500, {"error": "the change applied on this worker but not on every sibling worker",
                                 "workers": errors}
        flow.response = _json_response(status, body)

    @staticmethod
    def _parses_rules(req: http.Request) -> bool:
        path = req.path.split("?", 1)[0].rstrip("/") or "/"
        return path == "/rules" and req.method.upper() in ("POST", "PUT")

    async def _replace_off_loop(self, flow: http.HTTPFlow) -> None:
        """POST/PUT /rules: the body is parsed in a thread (10,000 rules take seconds),
        then the rules are applied here on the loop in one step, so a request meanwhile
        sees either the old rules or the new ones, never a part."""
        req = flow.request
        query = _query(req)
        try:
            source, rules = await asyncio.to_thread(parse_body, req, self._seed())
        except SpecError as e:
            return self._answer(flow, 400, {"error": str(e)})
        except Exception as e:  # a bug, never a value: still no traceback for a control request
            log.exception("fault control request failed")
            return self._answer(flow, 500, {"error": repr(e)})
        append = query.get("append", "").lower() in ("1", "true", "yes")
        change = self._stamped({"op": "add" if append else "set", **source})
        try:
            self.apply_change(change, rules)
        except SpecError as e:
            return self._answer(flow, 400, {"error": str(e)})
        res = self._answer(flow, 200, {"ok": True, "rules": describe_rules(self._injector()), "_change": change})
        if res is not None:
            await res

    def _serve(self, req: http.Request) -> tuple[int, dict]:
        try:
            return self._refusal(req) or self._handle(req)
        except Exception as e:  # a bug, never a value: still no traceback for a control request
            log.exception("fault control request failed")
            return 500, {"error": repr(e)}

    def _carries_token(self, req: http.Request) -> bool:
        return bool(ctx.options.fault_control_token) and self._authorized(req)

    def _authorized(self, req: http.Request) -> bool:
        token = ctx.options.fault_control_token
        if not token:
            return False
        given = req.headers.get(TOKEN_HEADER, "")
        auth = req.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            given = given or auth[7:].strip()
        # header values are str decoded with surrogateescape: compare the bytes
        return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), token.encode("utf-8", "surrogateescape"))

    def _refusal(self, req: http.Request) -> tuple[int, dict] | None:
        """What the request's head alone decides: unknown path, method, token, an announced
        body over the limit. None: go on (the body is needed)."""
        path = req.path.split("?", 1)[0].rstrip("/") or "/"
        method = req.method.upper()
        if path not in self.ROUTES:
            return 404, {"error": f"unknown path {numbers.shown(path, 80)}", "paths": sorted(self.ROUTES)}
        if method not in self.ROUTES[path]:
            return 405, {"error": f"{numbers.shown(method)} not allowed on {path}", "allowed": self.ROUTES[path]}
        if ctx.options.fault_control_token and not self._authorized(req):
            # with a token set, reads need it too: the seed makes every draw predictable
            return 403, {"error": "forbidden: missing or wrong token (send 'Authorization: Bearer TOKEN' "
                                  f"or '{TOKEN_HEADER}: TOKEN')"}
        if method != "GET" and path != "/expect" and not ctx.options.fault_control_token:
            return 403, {"error": "forbidden: no fault_control_token is configured (changes need one)"}
        announced = req.headers.get("content-length")
        if announced is not None and (numbers.header_length(announced) or 0) > planmod.MAX_PLAN_BYTES:
            return 413, {"error": f"request body is larger than {planmod.MAX_PLAN_BYTES // 1024 // 1024} MiB "
                                  "(the limit)"}
        return None

    def _handle(self, req: http.Request) -> tuple[int, dict]:
        """A request that passed ``_refusal``."""
        path = req.path.split("?", 1)[0].rstrip("/") or "/"
        query = _query(req)
        method = req.method.upper()
        if path == "/expect":
            return self.expect.answer(query)
        if method == "GET":
            if path == "/t0":
                return 200, {"t0": clock.t0, "t": clock.t()}
            if path == "/flows":
                return 200, {"flows": list(self.expect.records)}
            if path == "/rules":
                return 200, {"rules": describe_rules(self._injector())}
            if path == "/stats":
                return 200, self._stats()
            return 200, {"rules": describe_rules(self._injector()), "stats": self._stats(),
                         "seed": self._seed()}
        if path == "/flows":
            self.expect.clear()
            return 200, {"ok": True}
        if path == "/t0":
            try:
                t0 = None if method == "DELETE" else self._t0_of(query.get("t", ""))
            except ValueError as e:
                return 400, {"error": str(e)}
            clock.set(t0)
            # "_change": sent to the sibling workers by ``request`` before the answer
            return 200, {"ok": True, "t0": t0, "_change": {"op": "t0", "t0": t0}}
        if method == "DELETE" or path == "/clear":
            change, rules = self._stamped({"op": "clear"}), []
        else:
            try:
                source, rules = parse_body(req, self._seed())
            except SpecError as e:
                return 400, {"error": str(e)}
            append = query.get("append", "").lower() in ("1", "true", "yes")
            change = self._stamped({"op": "add" if append else "set", **source})
        self.apply_change(change, rules)
        # "_change": taken off by ``_answer``, which sends it to the sibling workers
        return 200, {"ok": True, "rules": describe_rules(self._injector()), "_change": change}


def _query(req: http.Request) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(req.path.partition("?")[2]).items()}


def parse_body(req: http.Request, seed=None) -> tuple[dict, list[planmod.Rule]]:
    """The body's rules, and their source for a change message: ``{"specs": [...]}``
    or ``{"yaml": text}`` (a SpecError names what is wrong). Reads no option and no
    addon: it runs in a thread for big rule sets."""
    ctype = req.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = req.raw_content or b""
    if len(raw) > planmod.MAX_PLAN_BYTES:
        raise SpecError(f"request body is larger than {planmod.MAX_PLAN_BYTES // 1024 // 1024} MiB (the limit)")
    if req.headers.get("content-encoding", "identity").strip().lower() != "identity":
        raise SpecError("compressed request bodies are not accepted (a small body expands without bound)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError("request body is not UTF-8") from None
    source = "control request"
    if ctype == "application/json":
        try:
            doc = numbers.json_loads(text or "null")  # integers bounded (faults.numbers)
        except json.JSONDecodeError as e:
            raise SpecError(f"invalid JSON: {e}", source) from None
        except RecursionError:
            raise SpecError("invalid JSON: nested too deeply", source) from None
        if isinstance(doc, dict):
            unknown = [k for k in doc if k not in ("faults", "plan")]
            if unknown:
                raise SpecError(f"unknown key(s) {', '.join(numbers.shown(k) for k in unknown[:5])} "
                                "(known: faults, plan)", source)
            if "plan" in doc:
                if not isinstance(doc["plan"], str):
                    raise SpecError("'plan' must be the YAML plan as a string", source)
                return {"yaml": doc["plan"]}, build_plan(doc["plan"], source, seed)
            doc = doc.get("faults")
        if not isinstance(doc, list) or not all(isinstance(s, str) for s in doc):
            raise SpecError('expected {"faults": ["/filter/spec", ...]}, {"plan": "<yaml>"} '
                            "or a list of strings", source)
        return {"specs": doc}, build_rules(doc, seed)
    if ctype in ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml") or (
        looks_like_yaml_plan(text) and not text.lstrip().startswith("{")
    ):
        return {"yaml": text}, build_plan(text, source, seed)
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise SpecError("empty body: expected one '/filter/spec' per line (use DELETE /rules to clear)", source)
    return {"specs": lines}, build_rules(lines, seed)


def _json_response(status: int, body) -> http.Response:
    if worker.current() and isinstance(body, dict):
        body["worker"] = worker.current()  # which worker answered (faults proxy --workers N)
    text = "" if isinstance(body, Pending) else json.dumps(body, indent=1, default=str) + "\n"
    return http.Response.make(status, text, {"content-type": "application/json", "cache-control": "no-store"})
