"""Toxiproxy 2.12's HTTP API: its 13 routes, JSON shapes, statuses and error bodies.

The reference is Toxiproxy's ``api.go`` (gorilla/mux routes, Go's ``encoding/json``):

- proxy ``{"name","listen","upstream","enabled","toxics"}``; toxic
  ``{"attributes","name","type","stream","toxicity"}`` (Go's field order, compact);
- creating a proxy answers 201, creating a toxic 200, reset and deletes 204, populate 201;
- errors are ``{"error": MSG, "status": N}`` + newline, sent as ``text/plain``
  (Go's ``http.Error`` overrides the JSON content type); an unknown path gets
  ``404 page not found``, a known path with another method a bare 405, a
  browser (``User-Agent: Mozilla/...``) a 403;
- bodies are decoded like Go's ``json.Decoder`` into a struct: unknown keys are
  ignored, keys match case-insensitively, ``null`` keeps the default, the first
  JSON value counts, a wrong type is ``bad request body: json: cannot unmarshal ...``.

Beyond Toxiproxy: the ``http`` toxic type (``attributes: {"spec", "match"}``,
one of this product's fault specs for the HTTP flows through that proxy).

Listening is the backend's job (``faults.toxiproxy.listeners``); this module
holds the state and is tested without mitmproxy.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import struct
from dataclasses import dataclass, field
from urllib.parse import unquote

from faults import numbers, plan as planmod
from faults.spec import SpecError
from faults.toxiproxy.addr import resolve
from faults.toxiproxy.toxics import TYPES, Toxic
from faults.wire.bytestream import DOWNSTREAM, UPSTREAM

VERSION = "2.12.0"
MAX_BODY = 4 << 20


class ApiError(Exception):
    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.message, self.status = message, status


def bad_body(why: str) -> ApiError:
    return ApiError(f"bad request body: {why}", 400)


def missing(what: str) -> ApiError:
    return ApiError(f"missing required field: {what}", 400)


PROXY_NOT_FOUND = ("proxy not found", 404)
PROXY_EXISTS = ("proxy already exists", 409)
INVALID_STREAM = ("stream was invalid, can be either upstream or downstream", 400)
INVALID_TYPE = ("invalid toxic type", 400)
TOXIC_EXISTS = ("toxic already exists", 409)
TOXIC_NOT_FOUND = ("toxic not found", 404)


class HttpToxic(Toxic):
    """Not Toxiproxy's: a fault spec for the HTTP flows through the proxy."""
    type = "http"
    attributes = {"spec": "", "match": ""}


ALL_TYPES: dict[str, type[Toxic]] = {**TYPES, HttpToxic.type: HttpToxic}  # what the API creates


def toxic_class(name: str):
    return ALL_TYPES.get(name)


# -- Go's JSON ------------------------------------------------------------------------------

def go_json(obj) -> bytes:
    """Compact, HTML-escaped like Go's json.Marshal."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    for a, b in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(a, b)
    return text.encode()


def f32(x: float) -> float:
    """A value as Go's float32 holds it; marshalled as Go prints it (1, 0.5, 0.1)."""
    v = struct.unpack("f", struct.pack("f", x))[0]
    if v == int(v) and abs(v) < 1e21:
        return int(v)
    for p in range(1, 10):  # shortest decimal that reads back as the same float32
        s = f"{v:.{p}g}"
        if struct.unpack("f", struct.pack("f", float(s)))[0] == v:
            return float(s)
    return v


_JSON_KIND = {str: "string", bool: "bool", int: "number", float: "number", list: "array", dict: "object",
              numbers.HugeNumber: "number"}


def decode_object(body: bytes, struct_name: str, fields: dict[str, str], into: dict) -> dict:
    """Go ``json.NewDecoder(body).Decode(&s)`` for a flat struct: ``fields`` is
    json-name -> Go type ("string", "bool", "int64", "float32", "object")."""
    doc = first_value(body)
    return assign(doc, struct_name, fields, into)


def first_value(body: bytes):
    if len(body) > MAX_BODY:
        raise bad_body(f"larger than {MAX_BODY >> 20} MiB")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_body("invalid UTF-8") from None
    text = text.lstrip(" \t\r\n")
    if not text:
        raise bad_body("EOF")
    try:
        doc, _ = numbers.json_decoder().raw_decode(text)  # Go reads the first value only; bounded ints
    except json.JSONDecodeError as e:
        raise bad_body(f"invalid JSON: {e.msg} (line {e.lineno} column {e.colno})") from None
    except RecursionError:
        raise bad_body("invalid JSON: nested too deeply") from None
    return doc


def assign(doc, struct_name: str, fields: dict[str, str], into: dict) -> dict:
    if doc is None:
        return into
    if not isinstance(doc, dict):
        raise bad_body(f"json: cannot unmarshal {_JSON_KIND.get(type(doc), 'value')} into Go value of type {struct_name}")
    lower = {k.lower(): k for k in fields}
    first_err = None
    for key, value in doc.items():
        name = key if key in fields else lower.get(key.lower())
        if name is None or value is None:
            continue
        gotype = fields[name]
        ok = {
            "string": isinstance(value, str),
            "bool": isinstance(value, bool),
            "int64": isinstance(value, int) and not isinstance(value, bool) and -(1 << 63) <= value < (1 << 63),
            "float32": isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value),
            "object": True,
        }[gotype]
        if not ok:
            kind = _JSON_KIND.get(type(value), "value")
            if kind == "number" and gotype in ("int64", "float32"):
                kind = f"number {value}"  # Go names the value only when a number does not fit
            first_err = first_err or bad_body(
                f"json: cannot unmarshal {kind} into Go struct field {struct_name}.{name} of type {gotype}")
            continue
        into[name] = float(value) if gotype == "float32" else value
    if first_err:
        raise first_err
    return into


# -- the state ---------------------------------------------------------------------------

@dataclass
class ToxicEntry:
    name: str
    type: str
    stream: str       # as given ("Upstream" stays "Upstream", as in Toxiproxy)
    direction: str    # upstream / downstream
    toxicity: float
    toxic: Toxic

    def json(self) -> dict:
        return {"attributes": dict(self.toxic.attrs), "name": self.name, "type": self.type,
                "stream": self.stream, "toxicity": f32(self.toxicity)}


@dataclass
class Proxy:
    name: str
    listen: str
    upstream: str
    enabled: bool = False
    toxics: list[ToxicEntry] = field(default_factory=list)
    connections: int = 0  # counted from creation: the n-th connection's seeded draws

    def ordered_toxics(self) -> list[ToxicEntry]:
        """Upstream chain, then downstream (Toxiproxy's GetToxicArray)."""
        return [t for t in self.toxics if t.direction == UPSTREAM] + [t for t in self.toxics if t.direction == DOWNSTREAM]

    def json(self) -> dict:
        return {"name": self.name, "listen": self.listen, "upstream": self.upstream, "enabled": self.enabled,
                "toxics": [t.json() for t in self.ordered_toxics()]}

    def find(self, name: str) -> ToxicEntry | None:
        return next((t for t in self.toxics if t.name == name), None)


class Backend:
    """What the API needs from the proxy (``listeners.Listeners`` in mitmproxy)."""

    async def start(self, proxy: Proxy) -> str:  # the bound address, or ApiError(500)
        raise NotImplementedError

    async def stop(self, proxy: Proxy) -> None:
        raise NotImplementedError

    async def toxics_changed(self, proxy: Proxy, removed: list[str] = ()) -> None:
        pass

    def check_toxic(self, entry: ToxicEntry) -> None:
        """An http toxic's spec and filter are validated like the ``faults`` option."""
        if entry.type == "http":
            try:
                http_rule(entry, 0)
            except SpecError as e:
                raise ApiError(f"bad request body: toxic {entry.name!r}: {e}", 400) from None


def http_rule(entry: ToxicEntry, i: int, seed=None) -> planmod.Rule:
    """An http toxic as a rule, in the ``faults`` option form "|filter|spec"."""
    match, spec = entry.toxic.match.strip(), entry.toxic.spec
    sep = next((c for c in "|#!%,;~/" if c not in match), None) if match else ""
    if sep is None:
        raise SpecError("the match filter uses every separator character |#!%,;~/")
    text = f"{sep}{match}{sep}{spec}" if match else spec
    if entry.toxicity < 1:
        text += f" probability={max(entry.toxicity, 0):.6g}"
    rule = planmod.rule_from_option(text, i, seed)
    if rule.fault.level == "response":  # toxics are tried at the request (FaultInjector.selectors)
        raise SpecError(f"the match filter {match!r} reads the response: an http toxic is chosen when the "
                        "request arrives; set response-triggered rules in the plan or the faults option")
    if rule.fault.level != "flow":  # tls acts at the ClientHello, before this proxy knows the flow
        raise SpecError(f"{rule.spec.kind!r} acts on the connection, not on a request: not available as an http toxic")
    rule.name = f"toxiproxy {entry.name}"
    rule.reseed(seed)  # its draws follow its name
    return rule


PROXY_FIELDS = {"name": "string", "listen": "string", "upstream": "string", "enabled": "bool"}
TOXIC_FIELDS = {"name": "string", "type": "string", "stream": "string", "toxicity": "float32", "attributes": "object"}
GO_ATTR_TYPES = {"spec": "string", "match": "string"}


def _attr_types(cls) -> dict[str, str]:
    return {k: GO_ATTR_TYPES.get(k, "int64") for k in cls.attributes}


def _struct_of(cls) -> str:
    return "".join(p.title() for p in cls.type.split("_")) + "Toxic"


class Api:
    def __init__(self, backend: Backend):
        self.backend = backend
        self.proxies: dict[str, Proxy] = {}
        self._lock = None  # one request at a time, as Toxiproxy's collection lock (made on the loop)

    # -- operations (each raises ApiError) ------------------------------------------------
    async def create_proxy(self, body: bytes) -> Proxy:
        data = decode_object(body, "Proxy", PROXY_FIELDS, {"name": "", "listen": "", "upstream": "", "enabled": True})
        if not data["name"]:
            raise missing("name")
        if not data["upstream"]:
            raise missing("upstream")
        if data["name"] in self.proxies:
            raise ApiError(*PROXY_EXISTS)
        proxy = Proxy(data["name"], data["listen"], data["upstream"])
        if data["enabled"]:
            await self._start(proxy)
        self.proxies[proxy.name] = proxy
        return proxy

    async def _start(self, proxy: Proxy) -> None:
        if proxy.enabled:
            return
        proxy.listen = await self.backend.start(proxy)
        proxy.enabled = True

    async def _stop(self, proxy: Proxy) -> None:
        if proxy.enabled:
            proxy.enabled = False
            await self.backend.stop(proxy)

    def get(self, name: str) -> Proxy:
        try:
            return self.proxies[name]
        except KeyError:
            raise ApiError(*PROXY_NOT_FOUND) from None

    async def update_proxy(self, name: str, body: bytes) -> Proxy:
        proxy = self.get(name)
        data = decode_object(body, "Proxy", PROXY_FIELDS,
                             {"name": proxy.name, "listen": proxy.listen, "upstream": proxy.upstream,
                              "enabled": proxy.enabled})
        if self.differs(proxy, data["listen"], data["upstream"]):
            await self._stop(proxy)
            proxy.listen, proxy.upstream = data["listen"], data["upstream"]
        if data["enabled"] != proxy.enabled:
            if data["enabled"]:
                await self._start(proxy)
            else:
                await self._stop(proxy)
        return proxy

    @staticmethod
    def differs(proxy: Proxy, listen: str, upstream: str) -> bool:
        try:
            return proxy.listen != resolve(listen) or proxy.upstream != upstream
        except ValueError as e:  # a malformed address is the request's fault: 400, never 500
            raise ApiError(str(e), 400) from None

    async def delete_proxy(self, name: str) -> None:
        proxy = self.get(name)
        await self._stop(proxy)
        del self.proxies[name]

    async def reset(self) -> None:
        for proxy in list(self.proxies.values()):
            await self._start(proxy)
            removed = [t.name for t in proxy.toxics]
            proxy.toxics.clear()
            if removed:
                await self.backend.toxics_changed(proxy, removed)

    async def populate(self, body: bytes) -> tuple[list[Proxy], ApiError | None]:
        doc = first_value(body)
        if doc is not None and not isinstance(doc, list):
            raise bad_body(f"json: cannot unmarshal {_JSON_KIND.get(type(doc), 'value')} into Go value of type "
                           "[]struct { toxiproxy.Proxy; Enabled *bool \"json:\\\"enabled\\\"\" }")
        items = [assign(d, "Proxy", PROXY_FIELDS, {"name": "", "listen": "", "upstream": "", "enabled": True})
                 for d in (doc or [])]
        for i, d in enumerate(items, 1):  # checked before any proxy is made
            if not d["name"]:
                raise missing(f"name at proxy {i}")
            if not d["upstream"]:
                raise missing(f"upstream at proxy {i}")
        done: list[Proxy] = []
        for d in items:
            existing = self.proxies.get(d["name"])
            try:
                if existing is not None:
                    if not self.differs(existing, d["listen"], d["upstream"]):
                        done.append(existing)
                        continue
                    await self._stop(existing)
                proxy = Proxy(d["name"], d["listen"], d["upstream"])
                if d["enabled"]:
                    await self._start(proxy)
            except ApiError as e:
                return done, e
            self.proxies[proxy.name] = proxy
            done.append(proxy)
        return done, None

    async def add_toxic(self, name: str, body: bytes) -> ToxicEntry:
        proxy = self.get(name)
        doc = first_value(body)
        data = assign(doc, "ToxicWrapper", TOXIC_FIELDS,
                      {"name": "", "type": "", "stream": DOWNSTREAM, "toxicity": 1.0, "attributes": None})
        direction = data["stream"].lower()
        if direction not in (UPSTREAM, DOWNSTREAM):
            raise ApiError(*INVALID_STREAM)
        if not data["name"]:
            data["name"] = f"{data['type']}_{data['stream']}"
        cls = toxic_class(data["type"])
        if cls is None:
            raise ApiError(*INVALID_TYPE)
        if proxy.find(data["name"]):
            raise ApiError(*TOXIC_EXISTS)
        attrs = assign(data["attributes"], _struct_of(cls), _attr_types(cls), dict(cls.attributes))
        entry = ToxicEntry(data["name"], data["type"], data["stream"], direction, f32_value(data["toxicity"]),
                           cls(**attrs))
        self.backend.check_toxic(entry)
        proxy.toxics.append(entry)
        await self.backend.toxics_changed(proxy)
        return entry

    async def update_toxic(self, name: str, toxic_name: str, body: bytes) -> ToxicEntry:
        proxy = self.get(name)
        entry = proxy.find(toxic_name)
        if entry is None:
            raise ApiError(*TOXIC_NOT_FOUND)
        cls = type(entry.toxic)
        data = decode_object(body, "struct { Attributes interface {} \"json:\\\"attributes\\\"\"; "
                                   "Toxicity float32 \"json:\\\"toxicity\\\"\" }",
                             {"attributes": "object", "toxicity": "float32"},
                             {"attributes": None, "toxicity": entry.toxicity})
        attrs = assign(data["attributes"], _struct_of(cls), _attr_types(cls), dict(entry.toxic.attrs))
        new = ToxicEntry(entry.name, entry.type, entry.stream, entry.direction, f32_value(data["toxicity"]),
                         cls(**attrs))
        self.backend.check_toxic(new)
        proxy.toxics[proxy.toxics.index(entry)] = new
        await self.backend.toxics_changed(proxy)
        return new

    async def remove_toxic(self, name: str, toxic_name: str) -> None:
        proxy = self.get(name)
        entry = proxy.find(toxic_name)
        if entry is None:
            raise ApiError(*TOXIC_NOT_FOUND)
        proxy.toxics.remove(entry)
        await self.backend.toxics_changed(proxy, [entry.name])

    # -- HTTP ------------------------------------------------------------------------------
    ROUTES = [
        (re.compile(r"/reset"), {"POST": "reset"}),
        (re.compile(r"/proxies"), {"GET": "index", "POST": "create"}),
        (re.compile(r"/populate"), {"POST": "populate"}),
        (re.compile(r"/proxies/([^/]+)"), {"GET": "show", "POST": "update", "PATCH": "update", "DELETE": "delete"}),
        (re.compile(r"/proxies/([^/]+)/toxics"), {"GET": "toxics", "POST": "add_toxic"}),
        (re.compile(r"/proxies/([^/]+)/toxics/([^/]+)"),
         {"GET": "toxic", "POST": "update_toxic", "PATCH": "update_toxic", "DELETE": "remove_toxic"}),
        (re.compile(r"/version"), {"GET": "version"}),
    ]

    async def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, dict, bytes]:
        """One request -> (status, headers, body), as Toxiproxy answers it."""
        if headers.get("user-agent", "").startswith("Mozilla/"):
            return text_error(403, "User agent not allowed")
        path = target.split("?", 1)[0]
        for rx, methods in self.ROUTES:
            m = rx.fullmatch(path)
            if m is None:
                continue
            if method not in methods:
                return 405, {}, b""
            args = [unquote(a) for a in m.groups()]
            if self._lock is None:
                self._lock = asyncio.Lock()
            async with self._lock:  # two creates of one name must not both pass the check
                try:
                    return await getattr(self, "_h_" + methods[method])(*args, body=body)
                except ApiError as e:
                    return api_error(e)
        return text_error(404, "404 page not found")

    async def _h_reset(self, body):
        await self.reset()
        return 204, {}, b""

    async def _h_index(self, body):
        return ok({n: p.json() for n, p in sorted(self.proxies.items())})

    async def _h_create(self, body):
        return ok((await self.create_proxy(body)).json(), 201)

    async def _h_populate(self, body):
        try:  # every populate error is a JSON body with the proxies made so far (api.go)
            proxies, err = await self.populate(body)
        except ApiError as e:
            proxies, err = [], e
        out = {"error": err.message, "status": err.status} if err else {}
        out["proxies"] = [p.json() for p in proxies] or None  # Go: an empty result is null
        return ok(out, err.status if err else 201)

    async def _h_show(self, name, body):
        return ok(self.get(name).json())

    async def _h_update(self, name, body):
        return ok((await self.update_proxy(name, body)).json())

    async def _h_delete(self, name, body):
        await self.delete_proxy(name)
        return 204, {}, b""

    async def _h_toxics(self, name, body):
        return ok([t.json() for t in self.get(name).ordered_toxics()])

    async def _h_add_toxic(self, name, body):
        return ok((await self.add_toxic(name, body)).json())

    async def _h_toxic(self, name, toxic, body):
        entry = self.get(name).find(toxic)
        if entry is None:
            raise ApiError(*TOXIC_NOT_FOUND)
        return ok(entry.json())

    async def _h_update_toxic(self, name, toxic, body):
        return ok((await self.update_toxic(name, toxic, body)).json())

    async def _h_remove_toxic(self, name, toxic, body):
        await self.remove_toxic(name, toxic)
        return 204, {}, b""

    async def _h_version(self, body):
        return 200, {"Content-Type": "application/json;charset=utf-8"}, f'{{"version": "{VERSION}"}}\n'.encode()


def f32_value(x: float) -> float:
    return struct.unpack("f", struct.pack("f", x))[0]


def ok(obj, status: int = 200) -> tuple[int, dict, bytes]:
    return status, {"Content-Type": "application/json"}, go_json(obj)


def text_error(status: int, text: str) -> tuple[int, dict, bytes]:
    return status, {"Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"}, \
        (text + "\n").encode()


def api_error(e: ApiError) -> tuple[int, dict, bytes]:
    """Go's http.Error(resp, json, status): the JSON, a newline, as text/plain."""
    return text_error(e.status, go_json({"error": e.message, "status": e.status}).decode())
