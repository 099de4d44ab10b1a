"""The HTTP control endpoint: its requests recognised at their head, refused there
(the head decides: path, method, token, announced size) or routed, and answered in
JSON. Its routes, bodies and token rules: ``faults.addons.control``'s docstring.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Callable

from mitmproxy import ctx, http

from faults import numbers, plan as planmod, vocabulary, worker
from faults.plan import limits
from faults.addons.control.body import appends, parse_body, query
from faults.addons.control.changes import Changes, t0_of
from faults.addons.control.rules import describe_rules
from faults.addons.expectations import Expectations, Pending
from faults.addons.headers import is_connect, names as header_names
from faults.gates import clock
from faults.spec import SpecError

log = logging.getLogger(__name__)
CONTROL_HOST = "faults.control"
TOKEN_HEADER = "x-fault-token"
_TOKEN_B = TOKEN_HEADER.encode()
CONTROL_KEY = vocabulary.CONTROL  # flow.metadata marker for control requests
# A rule set in a body larger than this is parsed in a thread (10,000 rules: ~300 kB,
# seconds of parsing); a smaller one (milliseconds) is parsed and applied at once.
OFF_LOOP_BYTES = 64 * 1024
ROUTES = {"/": ("GET",), "/rules": ("GET", "POST", "PUT", "DELETE"), "/stats": ("GET",), "/clear": ("POST",),
          "/expect": ("GET", "POST"), "/flows": ("GET", "DELETE"), "/t0": ("GET", "POST", "DELETE")}


def is_control_host(flow: http.HTTPFlow, host: str) -> bool:
    """The request's target (regular mode) or its Host header (reverse mode with
    ``keep_host_header``, where the target is the fixed upstream) is the reserved name.
    Read through the plans' per-flow host key: the Host header is parsed once per request."""
    host = host.lower()
    return any(name.lower() == host for name in planmod.host_key(flow))


def authorized(req: http.Request, token: str) -> bool:
    """The request carries ``token`` (never, when no token is set)."""
    if not token:
        return False
    given = req.headers.get(TOKEN_HEADER, "")
    auth = req.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        given = given or auth[7:].strip()
    # header values are str decoded with surrogateescape: compare the bytes
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), token.encode("utf-8", "surrogateescape"))


def route(req: http.Request) -> str:
    """The request's path without its query or a trailing slash."""
    return req.path.split("?", 1)[0].rstrip("/") or "/"


def parses_rules(req: http.Request) -> bool:
    return route(req) == "/rules" and req.method.upper() in ("POST", "PUT")


def refusal(req: http.Request, token: str) -> tuple[int, dict] | None:
    """What the request's head alone decides: unknown path, method, token (``token``: the
    one set, or ""), an announced body over the limit. None: go on (the body is needed)."""
    path, method = route(req), req.method.upper()
    if path not in ROUTES:
        return 404, {"error": f"unknown path {numbers.shown(path, 80)}", "paths": sorted(ROUTES)}
    if method not in ROUTES[path]:
        return 405, {"error": f"{numbers.shown(method)} not allowed on {path}", "allowed": ROUTES[path]}
    if token and not authorized(req, token):
        # with a token set, reads need it too: the seed makes every draw predictable
        return 403, {"error": "forbidden: missing or wrong token (send 'Authorization: Bearer TOKEN' "
                              f"or '{TOKEN_HEADER}: TOKEN')"}
    if method != "GET" and path != "/expect" and not token:
        return 403, {"error": "forbidden: no fault_control_token is configured (changes need one)"}
    announced = req.headers.get("content-length")
    if announced is not None and (numbers.header_length(announced) or 0) > limits.MAX_PLAN_BYTES:
        return 413, {"error": f"request body is larger than {limits.MAX_PLAN_BYTES // 1024 // 1024} MiB "
                              "(the limit)"}
    return None


def json_response(status: int, body) -> http.Response:
    if worker.current() and isinstance(body, dict):
        body["worker"] = worker.current()  # which worker answered (faults proxy --workers N)
    text = "" if isinstance(body, Pending) else json.dumps(body, indent=1, default=str) + "\n"
    return http.Response.make(status, text, {"content-type": "application/json", "cache-control": "no-store"})


class Endpoint:
    """The endpoint's request hooks (``FaultControl`` calls them). An answer's
    ``"_change"``, a change message, goes to the sibling workers before the answer."""

    def __init__(self, changes: Changes, expect: Expectations, stats: Callable[[], dict]):
        self.changes, self.expect, self.stats = changes, expect, stats
        # the options every request is checked against, copied when they change (``configure``:
        # each ``ctx.options`` read deep-copies the value, several times per request otherwise)
        self.on, self.host, self.token = False, CONTROL_HOST, ""

    def configure(self, updated) -> None:
        """``FaultControl.configure``: copy the endpoint's options that changed."""
        if "fault_control" in updated:
            self.on = ctx.options.fault_control
        if "fault_control_host" in updated:
            self.host = ctx.options.fault_control_host
        if "fault_control_token" in updated:
            self.token = ctx.options.fault_control_token

    def addressed(self, flow: http.HTTPFlow) -> bool:
        """A request for the endpoint: it is on and the request names its host (off,
        the control host is proxied like any other host)."""
        return self.on and is_control_host(flow, self.host)

    def carries_token(self, req: http.Request) -> bool:
        return bool(self.token) and authorized(req, self.token)

    def requestheaders(self, flow: http.HTTPFlow):
        """Recognise the endpoint's requests at their head, and answer a refused one
        there (no token, wrong path or method, too big): its body is then read off the
        wire and dropped by the HTTP layer (``vocabulary.DISCARD_BODY``), never buffered."""
        if flow.response or flow.error or is_connect(flow) or not self.addressed(flow):
            return
        flow.metadata[CONTROL_KEY] = True
        refused = refusal(flow.request, self.token)
        if refused is not None:
            flow.metadata[vocabulary.DISCARD_BODY] = True
            flow.response = json_response(*refused)

    def request(self, flow: http.HTTPFlow):
        if flow.response or flow.error or is_connect(flow):
            return
        req = flow.request
        if flow.metadata.get(CONTROL_KEY) or self.addressed(flow):
            flow.metadata[CONTROL_KEY] = True
            if parses_rules(req) and len(req.raw_content or b"") > OFF_LOOP_BYTES and refusal(req, self.token) is None:
                return self._replace_off_loop(flow)  # a big rule set must not stall the other flows
            return self._answer(flow, *self._serve(req))
        if self.carries_token(req):
            # e.g. reverse mode without keep_host_header: the Host header was
            # rewritten to the upstream's before any hook, so only the token
            # shows this was meant for the endpoint; never forward it
            flow.metadata[CONTROL_KEY] = True
            return self._answer(flow, 421, {
                "error": "this request carries the fault control token but is not addressed to "
                         f"{self.host}; not forwarded (is the endpoint on? "
                         "--set fault_control=true)"})
        if _TOKEN_B in header_names(req.headers):
            req.headers.pop(TOKEN_HEADER, None)  # ours, never the upstream's

    def _answer(self, flow, status: int, body):
        """Respond; a change is sent to the sibling workers first (when there are any)."""
        change = body.pop("_change", None) if isinstance(body, dict) else None
        if change and self.changes.fans_out():
            return self._answer_after_fan_out(flow, status, body, change)
        flow.response = json_response(status, body)
        if isinstance(body, Pending):  # /expect not met yet: answered when met or at its deadline
            self.expect.defer(flow, body, json_response)
        return None

    async def _answer_after_fan_out(self, flow, status: int, body: dict, change: dict) -> None:
        """200 only once every sibling worker applied the change too."""
        errors = await self.changes.fan_out(change)
        if errors:
            status, body = 500, {"error": "the change applied on this worker but not on every sibling worker",
                                 "workers": errors}
        flow.response = json_response(status, body)

    async def _replace_off_loop(self, flow: http.HTTPFlow) -> None:
        """POST/PUT /rules: the body is parsed in a thread (10,000 rules take seconds),
        then the rules are applied here on the loop in one step, so a request meanwhile
        sees either the old rules or the new ones, never a part."""
        req = flow.request
        try:
            source, rules = await asyncio.to_thread(parse_body, req, self.changes.seed())
        except SpecError as e:
            return self._answer(flow, 400, {"error": str(e)})
        except Exception as e:  # a bug, never a value: still no traceback for a control request
            log.exception("fault control request failed")
            return self._answer(flow, 500, {"error": repr(e)})
        try:
            answer = self._apply(self._rules_change(source, query(req)), rules)
        except SpecError as e:
            return self._answer(flow, 400, {"error": str(e)})
        res = self._answer(flow, *answer)
        if res is not None:
            await res

    def _serve(self, req: http.Request) -> tuple[int, dict]:
        try:
            return refusal(req, self.token) or self._handle(req)
        except Exception as e:  # a bug, never a value: still no traceback for a control request
            log.exception("fault control request failed")
            return 500, {"error": repr(e)}

    def _rules_change(self, source: dict, q: dict[str, str]) -> dict:
        """POST/PUT /rules: the change message of the body's rules (``source``)."""
        return self.changes.stamped({"op": "add" if appends(q) else "set", **source})

    def _apply(self, change: dict, rules: list) -> tuple[int, dict]:
        self.changes.apply(change, rules)
        # "_change": taken off by ``_answer``, which sends it to the sibling workers
        return 200, {"ok": True, "rules": describe_rules(self.changes.injector_or_refuse()), "_change": change}

    def _handle(self, req: http.Request) -> tuple[int, dict]:
        """A request that passed ``refusal``."""
        path, q, method = route(req), query(req), req.method.upper()
        if path == "/expect":
            return self.expect.answer(q)
        if method == "GET":
            return self._read(path)
        if path == "/flows":
            self.expect.clear()
            return 200, {"ok": True}
        if path == "/t0":
            try:
                t0 = None if method == "DELETE" else t0_of(q.get("t", ""))
            except ValueError as e:
                return 400, {"error": str(e)}
            clock.set(t0)
            return 200, {"ok": True, "t0": t0, "_change": {"op": "t0", "t0": t0}}
        if method == "DELETE" or path == "/clear":
            return self._apply(self.changes.stamped({"op": "clear"}), [])
        try:
            source, rules = parse_body(req, self.changes.seed())
        except SpecError as e:
            return 400, {"error": str(e)}
        return self._apply(self._rules_change(source, q), rules)

    def _read(self, path: str) -> tuple[int, dict]:
        """A GET."""
        if path == "/t0":
            return 200, {"t0": clock.t0, "t": clock.t()}
        if path == "/flows":
            return 200, {"flows": list(self.expect.records)}
        if path == "/rules":
            return 200, {"rules": describe_rules(self.changes.injector_or_refuse())}
        if path == "/stats":
            return 200, self.stats()
        return 200, {"rules": describe_rules(self.changes.injector_or_refuse()), "stats": self.stats(),
                     "seed": self.changes.seed()}
