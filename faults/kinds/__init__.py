"""Fault kinds: one small module per kind, all with the same tiny interface.

A kind declares its parameters (so the one spec grammar can validate it) and
implements any of three hooks, each called with the flow and an ``Act`` (the
only door to the wire, see ``faults/wire/act.py``):

- ``requestheaders(flow, act)``  -- request head in, body not yet (level "request_head" only);
- ``async request(flow, act)``   -- before the request is forwarded;
- ``responseheaders(flow, act)`` -- response headers are in, body not yet;
- ``async response(flow, act)``  -- the whole response is in, not yet sent.

The levels before any HTTP exchange have their own hooks and their own act
(the addon of the level finds the selected rule and calls the hook, nothing more):

- ``level = "connection"`` (``faults/addons/tls.py``, ``faults/wire/tlsact.py``):
  ``refusal(act)``, ``async tls_clienthello(act)``, ``tls_start(data, act)``, ``quic_start(data, act)``;
- ``level = "dns"`` (``faults/addons/dns.py``, ``faults/wire/dnsact.py``): ``async dns_request(flow, act)``;
- ``level = "quic"`` (``faults/addons/datagrams.py``): ``quic_clienthello(act)``.

A kind that means something on a bare byte stream (one direction of a TCP
connection, no protocol parsed) says so in ``async byte_stream(act)``, given a
``faults.wire.bytestream.StreamAct``: that is what a Toxiproxy toxic of the same
meaning runs (``faults/toxiproxy/toxics.py``, ``MEANING``: ``latency`` is ``delay``).

A kind says what it did through ``act.record(...)``; the classifier reads that
record, not the kind's name, to decide what the client saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from faults import numbers
from faults.errors import SpecError

REQUIRED = object()
NUMBER_MAX = numbers.NUMBER_MAX  # numbers with no stated maximum: still bounded (faults.numbers)
PHASES = ("before_response", "after_headers", "mid_body")


@dataclass(frozen=True)
class Param:
    type: type = str
    default: Any = REQUIRED
    choices: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    help: str = ""

    def convert(self, key: str, value: Any) -> Any:
        # Types exact: a YAML list or mapping, a float for a whole number, NaN
        # or infinity are refused, never coerced (``code: 503.9`` is a mistake).
        if value is not None and not isinstance(value, (str, int, float)):
            got = "list" if isinstance(value, (list, tuple)) else "mapping" if isinstance(value, dict) \
                else type(value).__name__
            raise SpecError(f"{key}={numbers.shown(value)}: expected a single value, got a {got}")
        if self.type is bool:
            if isinstance(value, bool):
                return value
            s = str(value).lower()
            if s in ("1", "true", "yes", "on"):
                return True
            if s in ("0", "false", "no", "off"):
                return False
            raise SpecError(f"{key}={numbers.shown(value)}: expected true or false")
        if self.type is int:
            return numbers.whole(value, key, self.min, self.max)
        if self.type is float:
            return numbers.real(value, key, self.min, self.max)
        v = "" if value is None else str(value)
        if self.choices is not None:
            v = v.lower()
            if v not in self.choices:
                raise SpecError(f"{key}={numbers.shown(value)}: expected one of {', '.join(self.choices)}")
        return v


class Fault:
    kind: ClassVar[str]
    summary: ClassVar[str] = ""
    params: ClassVar[dict[str, Param]] = {}
    # Keys of the form ``prefix.NAME=value`` (e.g. ``header.X-Foo=1``).
    prefixed: ClassVar[tuple[str, ...]] = ()
    # "flow": applied to HTTP flows by the injector; "connection": applied by
    # a connection-level addon (TLS) before any request exists; "dns": by the
    # DNS addon to DNS queries. An instance may say "request_head" (level_for).
    level: ClassVar[str] = "flow"
    # Why this kind has no HTTP/3 meaning (None: it has one); an HTTP/3 flow that
    # selects it is not faulted, and its record says why (``h3_refused``).
    h3: ClassVar[str | None] = None

    def __init__(self, spec):
        self.spec = spec
        self.p = spec.params
        self.level = self.level_for(spec.params)

    @classmethod
    def level_for(cls, params: dict[str, Any]) -> str:
        """This fault's level given its parameters: "request_head" for faults that act
        while the request body arrives (chosen at the request head, e.g. an upload cut)."""
        return cls.level

    # -- the hooks of the levels before any HTTP exchange (the HTTP ones are looked up
    # by name: a kind without them does nothing at that point) --------------------
    def refusal(self, act) -> str | None:
        """level "connection": why this fault cannot act on this connection (None: it can)."""
        return None

    async def tls_clienthello(self, act) -> None:
        """level "connection": the ClientHello is in, no TLS state exists yet."""

    def tls_start(self, data, act) -> None:
        """level "connection": the TLS server side of a TCP connection is being set up."""

    def quic_start(self, data, act) -> None:
        """level "connection": the TLS settings of a QUIC handshake are being chosen."""

    def left_without_request(self) -> str | None:
        """level "connection": the client completed the handshake and left without a request;
        the error its record names when that means it rejected what this fault served (None:
        nothing to record)."""
        return None

    def record_leaf(self, act):
        """level "connection": the leaf certificate served whose dates the connection's record
        names (None: none)."""
        return None

    async def dns_request(self, flow, act) -> None:
        """level "dns": answer the query ``flow`` through ``act`` (``faults.wire.dnsact.DnsAct``)."""
        raise NotImplementedError(f"fault {self.kind!r} has no DNS-level hook")

    def quic_clienthello(self, act) -> None:
        """level "quic": the QUIC ClientHello is in; shape the connection's datagrams."""
        raise NotImplementedError(f"fault {self.kind!r} has no QUIC-level hook")

    async def byte_stream(self, act) -> None:
        """A byte stream (a Toxiproxy toxic of this kind): loop over ``await act.next()``
        and ``emit``, ``drop``, ``close`` or ``reset`` (``faults.wire.bytestream.StreamAct``)."""
        raise NotImplementedError(f"fault {self.kind!r} has no byte-stream hook")

    def byte_stream_removed(self, act) -> None:
        """The fault was taken off a live byte stream (Toxiproxy: a toxic removed)."""

    def h3_refusal(self) -> str | None:
        """Why this fault (with its parameters) cannot act on an HTTP/3 flow, or None."""
        return self.h3

    @classmethod
    def validate(cls, raw: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in raw.items():
            if key in cls.params:
                out[key] = cls.params[key].convert(key, value)
            elif any(key.startswith(p + ".") and len(key) > len(p) + 1 for p in cls.prefixed):
                out[key] = "" if value is None else str(value)
            else:
                known = list(cls.params) + [f"{p}.NAME" for p in cls.prefixed]
                raise SpecError(
                    f"unknown key {key!r} for fault {cls.kind!r} (known: {', '.join(known) or 'none'})"
                )
        for key, param in cls.params.items():
            if key not in out:
                if param.default is REQUIRED:
                    raise SpecError(f"fault {cls.kind!r} needs {key}=...")
        cls.check(out)
        return out

    @classmethod
    def check(cls, params: dict[str, Any]) -> None:
        """Cross-parameter checks; raise SpecError."""

    def get(self, key: str) -> Any:
        return self.p.get(key, self.params[key].default)

    def acts_on_response_head(self) -> bool:
        """Whether this fault acts from the response head on, as the body streams (a cut
        after the head or mid-body): then it cannot be decided once the whole body is in
        (a rule on ``~bs``). The default reads the usual parameters; a kind may say otherwise."""
        p = self.p
        return p.get("when") in ("after_headers", "mid_body") or any(
            p.get(k) is not None for k in ("after_bytes", "after_events", "after_messages"))


_REGISTRY: dict[str, type[Fault]] = {}
_loaded = False


def register(cls: type[Fault]) -> type[Fault]:
    _REGISTRY[cls.kind] = cls
    return cls


def get(kind: str) -> type[Fault]:
    _load_builtin()
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise SpecError(
            f"unknown fault kind {kind!r} (known: {', '.join(sorted(_REGISTRY))})"
        ) from None


def all_kinds() -> dict[str, type[Fault]]:
    _load_builtin()
    return dict(sorted(_REGISTRY.items()))


def instantiate(spec) -> Fault:
    if hasattr(spec, "parts"):  # a StackSpec (faults.spec.stack)
        from faults.kinds._stack import Stack
        return Stack(spec)
    return get(spec.kind)(spec)


def _load_builtin() -> None:
    # A flag, not "registry non-empty": importing one kind module directly
    # (faults.addons.tls imports kinds.tls) must not hide the others.
    global _loaded
    if _loaded:
        return
    _loaded = True
    import importlib
    import pkgutil

    for mod in pkgutil.iter_modules(__path__):
        if not mod.name.startswith("_"):
            importlib.import_module(f"{__name__}.{mod.name}")
