"""``faults explain`` input as users have it: k6's ``error`` text, a curl exit
code, a gRPC status, besides everything :func:`faults.catalog.readings` reads.

:func:`readings` returns ``(how it was read, entry)`` pairs, most likely first:

- ``curl 56`` / ``curl: (56) Recv failure: ...``: curl exit codes, mapped from
  what curl reported through this proxy (docs/clients.md, docs/tls.md). One code can
  stand for several outcomes (35: any failed handshake); those are listed in
  the order they are most often the cause.
- ``grpc 14`` / ``grpc UNAVAILABLE`` / ``StatusCode.UNAVAILABLE``: only the gRPC
  reading (a bare ``14`` or ``UNAVAILABLE`` is ambiguous, see ``readings``).
- any other text is matched against k6's ``error`` strings (``<...>`` parts
  vary): a whole match first, then k6's text found inside a longer line (a
  k6 log line, ``Get "http://...": read tcp ...: read: connection reset by
  peer``), the most specific (longest fixed text) first; a name read from
  the text's last part (Go's cause, ``...: connect: connection refused``)
  goes before k6 texts that end in a placeholder; then the catalog's own
  readings (numbers, names, ids).
"""

from __future__ import annotations

import re

from faults import catalog
from faults.catalog import Entry

# curl exit code -> (curl's name, catalog ids, most likely first). Measured
# with curl 7.88 through this proxy (docs/clients.md, docs/tls.md);
# 6/7 are curl's own DNS and connect failures.
CURL: dict[int, tuple[str, tuple[str, ...]]] = {
    6: ("Could not resolve host", ("dns.lookup.no_such_host",)),
    7: ("Failed to connect", ("network.dial.refused",)),
    16: ("HTTP/2 error (e.g. a GOAWAY NO_ERROR before the response)", ("http2.goaway.no_error",)),
    18: ("Partial file: fewer body bytes than announced",
         ("http.body.truncated", "http2.goaway.protocol_error")),
    28: ("Operation timed out", ("client.timeout.request",)),
    35: ("TLS handshake failed",
         ("tls.alert.remote", "tls.record.header", "network.tcp.reset_by_peer", "network.tcp.closed")),
    52: ("Empty reply from server", ("network.tcp.closed", "http2.connection.protocol_error")),
    55: ("Failed sending data to the peer", ("network.tcp.broken_pipe", "network.tcp.reset_by_peer")),
    56: ("Recv failure (e.g. Connection reset by peer)", ("network.tcp.reset_by_peer", "tls.alert.remote")),
    60: ("Peer certificate cannot be authenticated",
         ("tls.x509.unknown_authority", "tls.x509.hostname_mismatch", "tls.x509.invalid_certificate",
          "tls.x509.insecure_algorithm")),
    61: ("Unrecognized transfer encoding (bad gzip with --compressed)", ("http.body.decompression",)),
    92: ("HTTP/2 stream error (RST_STREAM; curl does not say which code)",
         ("http2.stream.cancel", "http2.stream.protocol_error", "http2.stream.unknown")),
}

_CURL_RE = re.compile(r"curl(?:\s+exit(?:\s+code)?)?[:\s]*\(?\s*(\d+)\s*\)?(?:\s.*)?", re.I | re.S)
_GRPC_RE = re.compile(r"(?:grpc(?:\s+status)?[:\s=]+|(?:status\s*=\s*)?StatusCode\.)(\w+)", re.I)


def _curl(text: str) -> list[tuple[str, Entry]] | None:
    m = _CURL_RE.fullmatch(text.strip())
    if not m:
        return None
    code = int(m.group(1))
    if code not in CURL:
        return []
    what, ids = CURL[code]
    how = f"curl exit code {code} ({what})"
    n = len(ids)
    return [(how if n == 1 else f"{how}, reading {i} of {n}", catalog.by_id(i_d))
            for i, i_d in enumerate(ids, 1)]


def _grpc(text: str) -> list[tuple[str, Entry]] | None:
    m = _GRPC_RE.fullmatch(text.strip())
    if not m:
        return None
    try:
        e = catalog.for_grpc(int(m.group(1)) if m.group(1).isdigit() else m.group(1))
    except (KeyError, ValueError):
        return []
    return [(f"gRPC status {e.grpc_status[0]} ({e.grpc_status[1]})", e)]


def _k6_text(text: str) -> list[tuple[str, Entry]]:
    whole, inside = [], []
    for e in catalog.entries():
        if not e.k6_message or e.k6_code is None:
            continue
        parts = re.split(r"<[^<>]*>", e.k6_message)
        fixed = "".join(parts).strip()
        if len(fixed) < 3:  # all placeholder ("<innermost Go error text>"): matches anything
            continue
        pat = re.compile(".*?".join(re.escape(p) for p in parts), re.I | re.S)
        if pat.fullmatch(text):
            whole.append((len(fixed), f"k6 error text {e.k6_message!r} (error_code {e.k6_code})", e))
        elif pat.search(text):
            inside.append((len(fixed), f"contains k6 error text {e.k6_message!r} (error_code {e.k6_code})", e))
    # the longest fixed text is the most specific; a shorter text found inside
    # a longer one that matched ("EOF" in "unexpected EOF") is no reading of its own
    ranked = sorted(whole, key=lambda t: -t[0]) + sorted(inside, key=lambda t: -t[0])
    out, texts = [], []
    for _, how, e in ranked:
        fixed = re.sub(r"<[^<>]*>", "", e.k6_message).strip().lower()
        if not any(fixed in t for t in texts):
            out.append((how, e))
        texts.append(fixed)
    return out


def readings(text: str) -> list[tuple[str, Entry]]:
    """Every reading of ``text``, most likely first, each entry once."""
    text = str(text).strip()
    for special in (_curl, _grpc):
        found = special(text)
        if found is not None:
            return found
    k6 = _k6_text(text) if re.search(r"[a-z]", text, re.I) else []
    # Go's own text ends in the cause: "dial tcp 127.0.0.1:9: connect: connection
    # refused" is k6's 1212 (its name, "Connection refused"), not the generic
    # "dial tcp <address>: <error text>" (1210). Names read from the last part
    # go before k6 texts whose own last part is a placeholder.
    tail = text.rsplit(":", 1)[1].strip() if ":" in text else ""
    by_tail = [(f"{how}, from the last part {tail!r}", e) for how, e in catalog.readings(tail)
               if not how.startswith("partial")] if re.search(r"[a-z]", tail, re.I) else []
    specific = [(how, e) for how, e in k6 if not e.k6_message.rstrip().endswith(">")]
    generic = [(how, e) for how, e in k6 if e.k6_message.rstrip().endswith(">")]
    found = specific + by_tail + generic + catalog.readings(text)
    seen: set[str] = set()
    return [(how, e) for how, e in found if not (e.id in seen or seen.add(e.id))]
