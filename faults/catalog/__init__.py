"""One error catalog for every taxonomy: k6 codes, HTTP, HTTP/2, gRPC, a hosted service.

Every outcome a client can report is one :class:`Entry` with a stable id
(``domain.subdomain.error``, e.g. ``network.tcp.reset_by_peer``) and a 32-bit
code packed from it (domain byte, subdomain byte, 16-bit error; see
:mod:`faults.catalog.entry`). The API::

    by_id("http2.goaway.enhance_your_calm")  -> Entry
    by_code(0x0601000B)                      -> Entry   (the 32-bit code)
    for_k6(1631)                             -> Entry   (1000+status -> that status)
    for_http_status(503)                     -> Entry
    for_h2("stream", "CANCEL" or 8)          -> Entry   (unknown code -> "unknown" entry)
    for_grpc(14 or "UNAVAILABLE")            -> Entry
    h2_code("cancel") -> 8     h2_name(0x1e) -> "unknown error code 0x1e"
    grpc_code("unavailable") -> 14      grpc_name(14) -> "UNAVAILABLE"
    k6_code_for_h2("goaway", 0xb) -> 1622
    lookup("14") -> [Entry, ...]       readings("14") -> [(how it was read, Entry), ...]
    error_object(entry, message=None, **extra) -> dict (seed 003's error shape)

Lookups raise ``KeyError`` for what is not in the catalog.
"""

from __future__ import annotations

import re
from faults.catalog.data import ENTRIES, K6_H2_BASE, k6_h2_code, unassigned_status_entry
from faults.catalog.tables import (
    _GRPC_BY_NAME,
    _GRPC_BY_VALUE,
    _H2_BY_NAME,
    _H2_BY_VALUE,
    goaway_aborts_first_stream,
    grpc_code,
    grpc_name,
    h2_code,
    h2_name,
)
from faults.catalog.entry import DOMAINS, SUBDOMAINS, Entry, decode_code, make_code, split_code

__all__ = [
    "DOMAINS",
    "ENTRIES",
    "Entry",
    "SUBDOMAINS",
    "H2_KINDS",
    "by_code",
    "by_id",
    "decode_code",
    "entries",
    "error_object",
    "for_grpc",
    "for_h2",
    "for_http_status",
    "for_k6",
    "goaway_aborts_first_stream",
    "grpc_code",
    "grpc_name",
    "h2_code",
    "h2_name",
    "k6_code_for_h2",
    "lookup",
    "make_code",
    "readings",
    "split_code",
]

H2_KINDS = ("goaway", "stream", "connection")

_BY_ID: dict[str, Entry] = {}
_BY_CODE: dict[int, Entry] = {}
for _e in ENTRIES:
    if _e.id in _BY_ID or _e.code in _BY_CODE:  # pragma: no cover - guarded by tests
        raise RuntimeError(f"duplicate catalog id or code: {_e.id} 0x{_e.code:08X}")
    _BY_ID[_e.id] = _e
    _BY_CODE[_e.code] = _e

_HTTP_BY_STATUS = {e.http_status: e for e in ENTRIES if e.subdomain == "status" and e.domain == "http"}
_UNASSIGNED_RE = re.compile(r"http\.status\.unassigned_(\d{3})")


def entries() -> tuple[Entry, ...]:
    """Every entry of the catalog, in display order."""
    return ENTRIES


def by_id(id: str) -> Entry:
    """The entry with this ``domain.subdomain.error`` id (case-insensitive)."""
    key = id.strip().lower()
    if key in _BY_ID:
        return _BY_ID[key]
    m = _UNASSIGNED_RE.fullmatch(key)
    if m and int(m.group(1)) not in _HTTP_BY_STATUS and 100 <= int(m.group(1)) <= 599:
        return unassigned_status_entry(int(m.group(1)))
    raise KeyError(f"no catalog entry with id {id!r}")


def by_code(code: int) -> Entry:
    """The entry with this 32-bit code (signed int32 values are accepted too)."""
    code &= 0xFFFFFFFF
    if code in _BY_CODE:
        return _BY_CODE[code]
    if code >> 16 == make_code("http", "status", 0) >> 16 and 100 <= code & 0xFFFF <= 599:
        return for_http_status(code & 0xFFFF)
    raise KeyError(f"no catalog entry with code 0x{code:08X} ({code})")


def for_http_status(status: int) -> Entry:
    """The entry of an HTTP status 100-599 (unregistered ones get an 'unassigned' entry)."""
    status = int(status)
    if status in _HTTP_BY_STATUS:
        return _HTTP_BY_STATUS[status]
    if 100 <= status <= 599:
        return unassigned_status_entry(status)
    raise KeyError(f"{status} is not an HTTP status (100-599)")


def _k6_candidates(k6_code: int) -> list[Entry]:
    return [e for e in ENTRIES if e.k6_code == k6_code]


_PLACEHOLDER_RE = re.compile(r"<[^<>]*>")


def _message_pattern(k6_message: str) -> re.Pattern | None:
    """k6_message with ``<...>`` placeholders -> a regex; None if it is all placeholder."""
    parts = _PLACEHOLDER_RE.split(k6_message)
    if not "".join(parts).strip():
        return None
    return re.compile(".*".join(re.escape(p) for p in parts), re.DOTALL)


def for_k6(k6_code: int, message: str | None = None) -> Entry:
    """The entry for a k6 ``error_code`` (and, optionally, k6's ``error`` text).

    ``1000 + status`` (1400-1599) gives the HTTP status entry. Where several
    outcomes share one k6 code (1000 covers EOF, expired certificates...), the
    code's own entry is returned (the one whose 16-bit error part is the k6
    code: ``client.generic.error`` for 1000), unless ``message`` matches the
    ``k6_message`` form of a more specific entry (``unexpected EOF`` ->
    ``http.body.truncated``).
    """
    k6_code = int(k6_code)
    if 1400 <= k6_code <= 1599:
        return for_http_status(k6_code - 1000)
    cands = _k6_candidates(k6_code)
    if message:
        best, best_len = None, -1
        for e in cands:
            pat = _message_pattern(e.k6_message)
            literal = len(_PLACEHOLDER_RE.sub("", e.k6_message))
            if pat is not None and pat.fullmatch(message) and literal > best_len:
                best, best_len = e, literal
        if best is not None:
            return best
    if len(cands) == 1:
        return cands[0]
    for e in cands:
        if e.domain not in ("http", "grpc") and e.code & 0xFFFF == k6_code:
            return e
    raise KeyError(f"k6 1.1.0 has no error_code {k6_code}")


def k6_code_for_h2(kind: str, code: int | str) -> int:
    """k6's code for an HTTP/2 error: base 1610 (goaway), 1630 (stream) or 1650
    (connection), plus ``code + 1`` for codes 0x0-0xd; unknown codes give the base."""
    if kind not in K6_H2_BASE:
        raise KeyError(f"HTTP/2 error kind must be one of {H2_KINDS}, not {kind!r}")
    return k6_h2_code(kind, h2_code(code))






def for_h2(kind: str, code: int | str) -> Entry:
    """The entry for an HTTP/2 error of ``kind`` ('goaway', 'stream' or 'connection');
    a code above 0xd gives that kind's 'unknown' entry."""
    if kind not in K6_H2_BASE:
        raise KeyError(f"HTTP/2 error kind must be one of {H2_KINDS}, not {kind!r}")
    value = h2_code(code)
    name = _H2_BY_VALUE.get(value)
    return _BY_ID[f"http2.{kind}.{name.lower() if name else 'unknown'}"]






def for_grpc(n_or_name: int | str) -> Entry:
    """The entry of a gRPC status 0-16, by number or name."""
    value = grpc_code(n_or_name)
    if value not in _GRPC_BY_VALUE:
        raise KeyError(f"gRPC status {value} is not one of the 17 defined statuses (0-16)")
    return _BY_ID[f"grpc.status.{_GRPC_BY_VALUE[value].lower()}"]


# --------------------------------------------------------------------------
# Free-text lookup for `explain`
# --------------------------------------------------------------------------
_ID_RE = re.compile(r"[a-z0-9_]+\.[a-z0-9_]+\.[a-z0-9_]+")


def _norm(text: str) -> str:
    return re.sub(r"[^A-Z0-9]+", "_", text.upper()).strip("_")


def _h2_readings(value: int) -> list[tuple[str, Entry]]:
    label = f"HTTP/2 error code {h2_name(value)} (0x{value:x})"
    where = {"goaway": "in a GOAWAY", "stream": "in a RST_STREAM", "connection": "as a connection error"}
    return [(f"{label} {where[k]}", for_h2(k, value)) for k in H2_KINDS]


def _int_readings(n: int, text: str) -> list[tuple[str, Entry]]:
    out: list[tuple[str, Entry]] = []
    try:
        main = for_k6(n)
    except KeyError:
        main = None
    if main is not None:
        out.append((f"k6 error_code {n}", main))
        if n != 0:
            out += [(f"k6 error_code {n} (another outcome k6 reports as {n})", e)
                    for e in _k6_candidates(n) if e is not main]
    if 100 <= n <= 599:
        out.append((f"HTTP status {n}", for_http_status(n)))
    if n in _GRPC_BY_VALUE:
        out.append((f"gRPC status {n}", for_grpc(n)))
    if n in _H2_BY_VALUE:
        out += _h2_readings(n)
    out += [(f"hosted-service code {n}", e) for e in ENTRIES if e.cloud_code == n]
    try:
        out.append((f"32-bit catalog code {n} (0x{n & 0xFFFFFFFF:08X})", by_code(n)))
    except KeyError:
        pass
    return out


def _name_readings(text: str) -> list[tuple[str, Entry]]:
    out: list[tuple[str, Entry]] = []
    norm = _norm(text)
    if not norm:
        return out
    if norm in _H2_BY_NAME:
        out += _h2_readings(_H2_BY_NAME[norm])
    if norm in _GRPC_BY_NAME or norm == "CANCELED":
        out.append((f"gRPC status name {grpc_name(grpc_code(norm))}", for_grpc(norm)))
    for e in ENTRIES:
        names = [e.name, *e.aliases]
        if any(_norm(x) == norm for x in names):
            if e.domain == "http" and e.subdomain == "status":
                out.append((f"HTTP status name ({e.http_status} {e.name})", e))
            else:
                out.append((f"name ({e.name})", e))
    # Whole-word partial matches: "UNAVAILABLE" also reads as "Service Unavailable".
    # Closest first: fewest extra words.
    words = set(norm.split("_"))
    partial = []
    for e in ENTRIES:
        for x in (e.name, *e.aliases):
            xw = _norm(x).split("_")
            if words <= set(xw) and _norm(x) != norm:
                partial.append((len(xw), f"partial name match ({x})", e))
                break
    out += [(how, e) for _, how, e in sorted(partial, key=lambda t: t[0])]
    return out


def readings(text: str) -> list[tuple[str, Entry]]:
    """Every way ``text`` can be read, as ``(how it was read, entry)`` pairs, best first.

    Accepts a k6 error code, an HTTP status, an HTTP/2 error name (or hex
    value), a gRPC status number or name, a reason phrase, k6's Go constant
    name, a catalog id, or a 32-bit catalog code (decimal or ``0x`` hex). Each
    entry appears once, under the first reading that found it.
    """
    text = str(text).strip()
    found: list[tuple[str, Entry]] = []
    if _ID_RE.fullmatch(text.lower()):
        try:
            found.append(("catalog id", by_id(text)))
        except KeyError:
            pass
    if re.fullmatch(r"[+-]?0[xX][0-9a-fA-F]+", text):
        n = int(text, 16)
        try:
            found.append((f"32-bit catalog code 0x{n & 0xFFFFFFFF:08X}", by_code(n)))
        except KeyError:
            pass
        if 0 <= n <= 0xFFFFFFFF and (n in _H2_BY_VALUE or not found):
            found += _h2_readings(n)
    elif re.fullmatch(r"[+-]?\d+", text):
        found += _int_readings(int(text), text)
    else:
        found += _name_readings(text)
    seen: set[str] = set()
    unique = []
    for how, e in found:
        if e.id not in seen:
            seen.add(e.id)
            unique.append((how, e))
    return unique


def lookup(text: str) -> list[Entry]:
    """Every entry ``text`` can mean (see :func:`readings`); empty if none."""
    return [e for _, e in readings(text)]


# --------------------------------------------------------------------------
# Error objects (seed 003's shape)
# --------------------------------------------------------------------------
def error_object(entry: Entry, message: str | None = None, **extra) -> dict:
    """An error object in seed 003's shape plus the per-taxonomy codes::

        {"status": 503, "message": "...", "id": "http.status.service_unavailable",
         "code": 83952119, "k6_error_code": 1503, "http_status": 503,
         "http2_error": None, "grpc_status": None, "cloud_code": None}

    ``status`` is the HTTP status (0 when the outcome is not one, as in k6);
    ``message`` defaults to the entry's description; ``http2_error`` and
    ``grpc_status`` are ``{"name", "value"}`` or None; ``extra`` keys are added
    last (and may override, e.g. ``k6_error_code`` for a retried request).
    """
    obj = {
        "status": entry.http_status or 0,
        "message": message if message is not None else entry.description,
        "id": entry.id,
        "code": entry.code,
        "k6_error_code": entry.k6_code,
        "http_status": entry.http_status,
        "http2_error": None if entry.h2_error is None else {"name": entry.h2_error[0], "value": entry.h2_error[1]},
        "grpc_status": None if entry.grpc_status is None else {"name": entry.grpc_status[0],
                                                               "value": entry.grpc_status[1]},
        "cloud_code": entry.cloud_code,
    }
    obj.update(extra)
    return obj
