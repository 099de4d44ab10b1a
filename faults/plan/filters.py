"""The flow filters a rule may use: mitmproxy's grammar, minus the codes that could never
match when a rule is decided, with ``~d`` also matching the name a reverse-mode client used.

A filter that reads the response head (``~c``, ``~hs``, ...) or body (``~bs``) makes its
rule decided later (level "response" / "response_body", ``faults.plan.rule``)."""

from __future__ import annotations

from mitmproxy import flowfilter, http
from mitmproxy.net.http import url

from faults import vocabulary
from faults.plan import limits
from faults.spec import SpecError

# flowfilter codes that read the response head: a rule using one is decided when
# the upstream's response head arrives (level "response"), and acts then.
RESPONSE_FILTERS = {"s": "~s", "c": "~c", "a": "~a", "ts": "~ts", "hs": "~hs"}
# and the body: decided once the whole upstream body is in, before any of it is sent
# (level "response_body")
BODY_FILTERS = {"bs": "~bs"}
# codes that can never match as meant when a rule is decided (at the request or at
# the response): refused at load, with why.
NEVER_FILTERS = {
    "e": ("~e", "it reads the flow's error, and a flow with an error has no response left to fault: "
                "it would never match"),
    "replays": ("~replays", "it matches responses mitmproxy replayed, which no upstream sent: it would never match"),
}


def parse_filter(text: str):
    """A mitmproxy flow filter a rule can be decided on, or a SpecError saying why not."""
    if len(text) > limits.MAX_MATCH_CHARS:
        raise SpecError(f"flow filter is {len(text)} characters long (the limit is {limits.MAX_MATCH_CHARS})")
    try:
        filt = flowfilter.parse(text)
    except ValueError:
        raise SpecError(f"invalid flow filter {text!r} (see mitmproxy's filter expressions: ~d, ~u, ~m, ~h, ~q, ...)") from None
    bad = next((NEVER_FILTERS[c] for c in _codes(filt) if c in NEVER_FILTERS), None)
    if bad:
        raise SpecError(f"flow filter {text!r} uses {bad[0]}: {bad[1]}")
    _client_domains(filt)
    return filt


def response_filter(filt) -> str | None:
    """The first response filter used anywhere in ``filt``, e.g. ``'~c'``; a body filter
    (``~bs``) first if there is one: it decides when the rule can be decided."""
    codes = list(_codes(filt))
    return next((BODY_FILTERS[c] for c in codes if c in BODY_FILTERS), None) or \
        next((RESPONSE_FILTERS[c] for c in codes if c in RESPONSE_FILTERS), None)


def conjuncts(filt):
    """The parts that must all match for ``filt`` to match, in order: the leaves of an
    ``&`` (nested ``&`` included), or ``filt`` itself. What the indexes read a gate from."""
    if not isinstance(filt, flowfilter.FAnd):
        yield filt
        return
    stack = list(filt.lst)
    while stack:
        f = stack.pop(0)
        if isinstance(f, flowfilter.FAnd):
            stack[:0] = f.lst
        else:
            yield f


def _nodes(filt):
    """Every node of ``filt``: under ``&``, ``|`` and ``!`` too."""
    stack = [filt]
    while stack:
        f = stack.pop()
        yield f
        stack.extend(getattr(f, "lst", ()))
        if isinstance(f, flowfilter.FNot):
            stack.append(f.itm)


def _codes(filt):
    for f in _nodes(filt):
        code = getattr(type(f), "code", None)
        if code:
            yield code


# -- the name the client used ------------------------------------------------
# Reverse mode without keep_host_header: mitmproxy rewrites the Host header (HTTP/2:
# :authority) to the upstream's before any hook, so mitmproxy's own ``~d`` sees only the
# upstream. The HTTP layer keeps what the client sent (faults.wire.h2layer), and our
# ``~d`` matches it too: ``~d up\.test`` selects the requests a client sent to
# http://up.test:8080/ through the reverse proxy (docs/hostile-inputs.md, docs/dns.md).

def client_host(flow) -> str:
    """The host name a reverse-mode client sent (before the rewrite), or ""."""
    raw = getattr(flow.request, vocabulary.CLIENT_HOST_ATTR, None)
    if not raw:
        return ""
    try:
        return url.parse_authority(raw, check=False)[0]
    except ValueError:
        return ""


class ClientDomain(flowfilter.FDomain):
    """``~d RE``: mitmproxy's (target host or Host header), or the name the client used."""

    def __call__(self, f) -> bool:
        if super().__call__(f):
            return True
        name = client_host(f) if isinstance(f, http.HTTPFlow) else ""
        return bool(name) and bool(self.re.search(name))


def _client_domains(filt) -> None:
    """Every ``~d`` in ``filt`` becomes a ``ClientDomain`` (same regex, same state)."""
    for f in _nodes(filt):
        if type(f) is flowfilter.FDomain:
            f.__class__ = ClientDomain
