"""The catalog's record type and its 32-bit code scheme.

An entry's ``id`` is ``domain.subdomain.error`` and its ``code`` packs the same
three parts into 32 bits, as in the API error objects of seed 003::

    code = domain << 24 | subdomain << 16 | error        (1 + 1 + 2 bytes)

The domain and subdomain numbers come from the two FIXED tables below, never
from hashing or from list order, so a code never changes between releases.
Append new domains/subdomains with new numbers; never renumber or reuse one.
The error part is chosen per entry in ``data.py``:

* HTTP statuses: the status itself (``http.status.service_unavailable`` -> 503);
* HTTP/2 codes: the RFC 9113 value (0x0-0xd), ``0xFFFF`` for "unknown code";
* gRPC statuses: the status number (0-16);
* everything else: a literal number written next to the entry (by convention
  the entry's own k6 code when it has one of its own, else a small number).
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Domain byte of the 32-bit code. FIXED: append only, never renumber.
DOMAINS: dict[str, int] = {
    "ok": 0x00,  # no error at all
    "client": 0x01,  # k6/Go client side: generic errors, bad URL, timeouts
    "dns": 0x02,
    "network": 0x03,  # sockets, TCP, dialing, k6's IP/host policies
    "tls": 0x04,
    "http": 0x05,  # HTTP semantics: statuses, bodies
    "http2": 0x06,
    "grpc": 0x07,
    "cloud": 0x08,  # codes that exist only in the hosted service's numbering
    "http3": 0x09,  # HTTP/3 and QUIC (k6 does not speak it)
}

#: Subdomain byte, per domain. FIXED: append only, never renumber.
SUBDOMAINS: dict[tuple[str, str], int] = {
    ("ok", "none"): 0x00,
    ("client", "generic"): 0x01,
    ("client", "url"): 0x02,
    ("client", "timeout"): 0x03,
    ("client", "request"): 0x04,
    ("dns", "lookup"): 0x01,
    ("network", "socket"): 0x01,
    ("network", "policy"): 0x02,
    ("network", "tcp"): 0x03,
    ("network", "dial"): 0x04,
    ("tls", "general"): 0x01,
    ("tls", "record"): 0x02,
    ("tls", "x509"): 0x03,
    ("tls", "alert"): 0x04,
    ("tls", "handshake"): 0x05,
    ("http", "status"): 0x01,
    ("http", "body"): 0x02,
    ("http2", "general"): 0x00,
    ("http2", "goaway"): 0x01,
    ("http2", "stream"): 0x02,
    ("http2", "connection"): 0x03,
    ("grpc", "status"): 0x01,
    ("cloud", "engine"): 0x01,
    ("cloud", "check"): 0x02,
    ("http2", "frame"): 0x04,
    ("http3", "stream"): 0x01,
    ("http3", "goaway"): 0x02,
    ("http3", "connection"): 0x03,
}


def make_code(domain: str, subdomain: str, error: int) -> int:
    """Pack ``domain``/``subdomain`` (by the fixed tables) and ``error`` into 32 bits."""
    if not 0 <= error <= 0xFFFF:
        raise ValueError(f"error part {error} does not fit in 16 bits")
    return DOMAINS[domain] << 24 | SUBDOMAINS[(domain, subdomain)] << 16 | error


def split_code(code: int) -> tuple[int, int, int]:
    """``code`` -> ``(domain byte, subdomain byte, error)``; accepts signed int32 too."""
    code &= 0xFFFFFFFF
    return code >> 24, (code >> 16) & 0xFF, code & 0xFFFF


def decode_code(code: int) -> tuple[str, str, int]:
    """``code`` -> ``(domain, subdomain, error)`` names; KeyError if the bytes are unassigned."""
    d, s, e = split_code(code)
    for (dom, sub), num in SUBDOMAINS.items():
        if num == s and DOMAINS[dom] == d:
            return dom, sub, e
    raise KeyError(f"0x{code & 0xFFFFFFFF:08X}: no domain/subdomain with bytes 0x{d:02X}/0x{s:02X}")


@dataclass(frozen=True)
class Entry:
    """One outcome, with every name it has in every taxonomy.

    ``id``           stable ``domain.subdomain.error`` identifier.
    ``code``         32-bit code packed from the id (see module docstring).
    ``name``         its name in its own taxonomy ("Service Unavailable",
                     "ENHANCE_YOUR_CALM", "UNAVAILABLE", "Reset by peer").
    ``description``  one plain-English line: what it means.
    ``k6_code``      what k6 1.1.0 puts in ``error_code`` (None: k6 never
                     reports this outcome through ``error_code``, e.g. gRPC).
    ``k6_message``   k6's ``error`` string; ``<...>`` marks text that varies.
    ``cloud_code``   the hosted service's own number (seed 002), if any.
    ``http_status``  the HTTP status on the wire, if this outcome is one.
    ``h2_error``     ``(NAME, value)`` of the HTTP/2 error code, if any.
    ``grpc_status``  ``(NAME, value)`` of the gRPC status, if any.
    ``produced_by``  fault specs of ours that produce it (``<...>`` = choose).
    ``cause``        what makes a client report it (k6's view), may be "".
    ``aliases``      other names: older reason phrases, k6's Go constant name.
    ``k6_never_reported``  documented by k6 but never returned by k6 1.1.0.
    """

    id: str
    code: int
    name: str
    description: str
    k6_code: int | None = None
    k6_message: str = ""
    cloud_code: int | None = None
    http_status: int | None = None
    h2_error: tuple[str, int] | None = None
    grpc_status: tuple[str, int] | None = None
    produced_by: tuple[str, ...] = ()
    cause: str = ""
    aliases: tuple[str, ...] = field(default=())
    k6_never_reported: bool = False

    @property
    def domain(self) -> str:
        return self.id.split(".")[0]

    @property
    def subdomain(self) -> str:
        return self.id.split(".")[1]

    @property
    def hex_code(self) -> str:
        return f"0x{self.code:08X}"

    def as_dict(self) -> dict:
        """Plain JSON-ready dict of every field (tuples become lists/objects)."""
        return {
            "id": self.id,
            "code": self.code,
            "hex_code": self.hex_code,
            "name": self.name,
            "description": self.description,
            "k6_code": self.k6_code,
            "k6_message": self.k6_message,
            "cloud_code": self.cloud_code,
            "http_status": self.http_status,
            "h2_error": _pair(self.h2_error),
            "grpc_status": _pair(self.grpc_status),
            "produced_by": list(self.produced_by),
            "cause": self.cause,
            "aliases": list(self.aliases),
            "k6_never_reported": self.k6_never_reported,
        }


def _pair(p: tuple[str, int] | None) -> dict | None:
    return None if p is None else {"name": p[0], "value": p[1]}
