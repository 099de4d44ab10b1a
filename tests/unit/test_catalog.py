"""The catalog held to the truth: k6's formulas, the seeds' tables, stable codes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from faults import catalog
from faults.catalog import data as catalog_data

SHARED = Path(__file__).parents[2].parent / "shared"
SEEDS = SHARED / "seeds"


def _seed(prefix: str) -> str:
    if not SEEDS.is_dir():
        pytest.skip(f"seed documents not found at {SEEDS} (they live outside the repo, in ../shared/seeds)")
    files = sorted(SEEDS.glob(f"{prefix}_*.txt"))
    if not files:
        pytest.skip(f"seed {prefix}_*.txt not found in {SEEDS}")
    return files[0].read_text(encoding="utf-8")


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


# --------------------------------------------------------------------------
# HTTP/2: k6's formula, derived here independently of the catalog's own helper
# --------------------------------------------------------------------------
K6_BASES = {"goaway": 1610, "stream": 1630, "connection": 1650}
HTTP_1_1_REQUIRED = 0xD  # the last code k6 gives an offset to


def k6_formula(kind: str, code: int) -> int:
    return K6_BASES[kind] + (code + 1 if code <= HTTP_1_1_REQUIRED else 0)


@pytest.mark.parametrize("kind", sorted(K6_BASES))
def test_h2_k6_codes_follow_k6_formula(kind):
    for code in [*range(0, 0x20), 0xFF, 0x1234, 0xFFFFFFFF]:
        expected = k6_formula(kind, code)
        assert catalog.k6_code_for_h2(kind, code) == expected, (kind, hex(code))
        entry = catalog.for_h2(kind, code)
        assert entry.k6_code == expected, (kind, hex(code), entry.id)
        assert catalog.for_k6(expected) == entry
        if code <= HTTP_1_1_REQUIRED:
            name = catalog.h2_name(code)
            assert entry.h2_error == (name, code)
            assert entry.id == f"http2.{kind}.{name.lower()}"
            assert entry.k6_message.endswith(f"ErrCode {name}")
            assert catalog.k6_code_for_h2(kind, name.lower()) == expected
        else:
            assert entry.id == f"http2.{kind}.unknown"
            assert entry.h2_error is None
            assert catalog.h2_name(code) == f"unknown error code 0x{code:x}"


def test_h2_entries_cover_exactly_the_codes_k6_reports():
    h2_k6 = {e.k6_code for e in catalog.entries() if e.domain == "http2" and e.k6_code and e.k6_code >= 1600}
    expected = {1600}
    for kind in K6_BASES:
        expected |= {k6_formula(kind, c) for c in range(0, 0x40)}
    assert h2_k6 == expected
    assert catalog.for_k6(1600).k6_never_reported


def test_h2_names_and_values():
    assert catalog.h2_code("enhance_your_calm") == 0xB
    assert catalog.h2_code("0xb") == catalog.h2_code("11") == catalog.h2_code(11) == 0xB
    assert catalog.h2_name(0x1E) == "unknown error code 0x1e"
    with pytest.raises(KeyError):
        catalog.h2_code("NOT_A_CODE")
    with pytest.raises(KeyError):
        catalog.for_h2("frame", 0)


# --------------------------------------------------------------------------
# The seeds' tables
# --------------------------------------------------------------------------
def _seed002_tables() -> tuple[list, list, list]:
    text = _seed("002")
    hosted, http, grpc = [], [], []
    table = None
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if line.startswith("Error Code |"):
            table = hosted
        elif line.startswith("Status Code |"):
            table = http
        elif line.startswith("English Description | Status Code"):
            table = grpc
        elif table is not None and len(cells) >= 3 and cells[0]:
            table.append(cells[:3])
    assert len(hosted) >= 10 and len(http) >= 40 and len(grpc) == 17, "seed 002 layout changed"
    return hosted, http, grpc


# The hosted table's text has one misspelling; everything else is compared as written.
_SEED_TYPOS = {"unkown": "unknown"}


def test_seed002_hosted_service_codes_are_in_catalog_with_same_meaning():
    hosted, _, _ = _seed002_tables()
    for code_s, english, _definition in hosted:
        code = int(code_s)
        matches = [e for e in catalog.entries() if e.cloud_code == code]
        assert len(matches) == 1, f"hosted code {code} has {len(matches)} catalog entries"
        e = matches[0]
        haystack = f"{e.id} {e.name} {e.description} {e.k6_message}".lower()
        m = re.fullmatch(r"Specific (.*?) ?error message", english)
        words = (m.group(1) if m else english).lower().split()
        words = [_SEED_TYPOS.get(w, w) for w in words]
        missing = [w for w in words if w not in haystack]
        assert not missing, f"hosted {code} {english!r} -> {e.id}: {missing} not in {haystack!r}"
        assert catalog.readings(code_s), code_s
        assert e in catalog.lookup(code_s)


def test_seed002_http_statuses_are_in_catalog_with_same_name():
    _, http, _ = _seed002_tables()
    for status_s, name, _desc in http:
        status = int(status_s)
        e = catalog.for_http_status(status)
        assert not e.id.startswith("http.status.unassigned"), status
        names = {_norm(x) for x in (e.name, *e.aliases)}
        assert _norm(name) in names, f"{status} {name!r} vs {e.name!r} {e.aliases}"
        assert e.http_status == status
        assert e.k6_code == (1000 + status if status >= 400 else 0)
        if status >= 400:
            assert catalog.for_k6(1000 + status) == e
        assert f"status code={status}" in e.produced_by


def test_seed002_grpc_statuses_are_in_catalog():
    _, _, grpc = _seed002_tables()
    seen = set()
    for name, value_s, _desc in grpc:
        value = int(value_s)
        e = catalog.for_grpc(value)
        assert e.grpc_status == (name, value)
        assert catalog.for_grpc(name) == e == catalog.for_grpc(name.lower())
        assert catalog.grpc_code(name) == value and catalog.grpc_name(value) == name
        assert e.k6_code is None  # k6/net/grpc never sets error_code
        seen.add(value)
    assert seen == set(range(17))


def test_seed004_http2_codes_are_in_catalog():
    text = _seed("004")
    found = re.findall(r"\b([A-Z][A-Z0-9_]+)\s*\((0x[0-9a-fA-F]+)\)", text)
    pairs = {(n, int(v, 16)) for n, v in found}
    assert len(pairs) == 14, pairs  # the English and the Chinese list agree
    for name, value in pairs:
        assert catalog.h2_code(name) == value and catalog.h2_name(value) == name
        for kind in K6_BASES:
            e = catalog.for_h2(kind, name)
            assert e.h2_error == (name, value)
            assert e.k6_code == k6_formula(kind, value)


def test_seed000_k6_docs_codes_are_in_catalog():
    for prefix in ("000", "001"):
        text = _seed(prefix)
        singles = {int(c) for c in re.findall(r"^\s*(?:-|•)\s*(\d{4}):", text, re.M)}
        assert len(singles) >= 15, prefix
        for code in singles:
            e = catalog.for_k6(code)
            assert e.k6_code == code
        ranges = re.findall(r"(\d{4}) to (\d{4}): (?:error codes that correspond|HTTP/2)", text)
        for lo, hi in ranges:
            lo, hi = int(lo), int(hi)
            for code in range(lo, hi + 1):
                if 1400 <= code <= 1599 and code - 1000 not in catalog_data_statuses():
                    continue  # unregistered statuses: synthesized entries, checked elsewhere
                if code in (1625, 1626, 1627, 1628, 1629, 1645, 1646, 1647, 1648, 1649,
                            1665, 1666, 1667, 1668, 1669):
                    # documented as ranges, but k6 stops at HTTP_1_1_REQUIRED (0xd)
                    with pytest.raises(KeyError):
                        catalog.for_k6(code)
                    continue
                assert catalog.for_k6(code).k6_code == code


def catalog_data_statuses() -> set[int]:
    return {e.http_status for e in catalog.entries() if e.http_status is not None}


def _form(message: str) -> str:
    return re.sub(r"<[^<>]*>", "<>", message)


def test_k6_error_codes_md_table_is_in_catalog():
    """The ground-truth notes (k6 1.1.0's source): every code, Go name and fixed message."""
    path = SHARED / "k6-error-codes.md"
    if not path.is_file():
        pytest.skip(f"{path} not found (it lives outside the repo, in ../shared)")
    text = path.read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\d{4}(?:–\d{4})?|0) \| ([^|]+) \| ([^|]+) \| ([^\n]+) \|$", text, re.M)
    assert len(rows) >= 25
    for code_s, go_name, trigger, message in rows:
        go_name = go_name.strip().split()[0]
        lo, _, hi = code_s.partition("–")
        codes = range(int(lo), int(hi or lo) + 1)
        for code in codes:
            e = catalog.for_k6(code)
            assert e.k6_code == code
            if go_name != "none" and len(codes) == 1:
                assert go_name in e.aliases, f"{code}: {go_name} not among {e.id}'s aliases"
            if "never returned" in trigger:
                assert e.k6_never_reported, code
            else:
                assert not e.k6_never_reported, code
        # The `error` string's form, where the notes give one (fixed text or with <...> parts).
        form = re.fullmatch(r"`([^`]+)`(?: \(fixed[^)]*\))?(?:, e\.g\. .*)?", message.strip())
        if form:
            for code in codes:
                e = catalog.for_k6(code)
                doc = form.group(1)
                # section 7: <NAME> is the code's name, or "unknown error code 0x<hex>"
                doc = doc.replace("<NAME>", e.h2_error[0] if e.h2_error else "unknown error code 0x<hex>")
                assert _form(e.k6_message) == _form(doc), (code, e.k6_message, doc)
    # Section 7's table: NAME and the three codes per HTTP/2 error code.
    h2_rows = re.findall(r"^\| 0x([0-9a-f]+) \| ([A-Z_0-9]+) \| (\d+) \| (\d+) \| (\d+) \|$", text, re.M)
    assert len(h2_rows) == 14
    for value, name, goaway, stream, conn in h2_rows:
        for kind, k6 in zip(("goaway", "stream", "connection"), (goaway, stream, conn)):
            assert catalog.for_h2(kind, int(value, 16)).k6_code == int(k6)
            assert catalog.for_k6(int(k6)).h2_error == (name, int(value, 16))


# --------------------------------------------------------------------------
# Coverage without the seeds
# --------------------------------------------------------------------------
K6_REPORTED = {0, 1000, 1010, 1020, 1050, 1100, 1101, 1110, 1111, 1200, 1201, 1202, 1210, 1211, 1212,
               1213, 1220, 1301, 1310, 1311, 1701}
RFC9110_STATUSES = {100, 101, 200, 201, 202, 203, 204, 205, 206, 300, 301, 302, 303, 304, 305, 306, 307,
                    308, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415,
                    416, 417, 418, 421, 422, 426, 500, 501, 502, 503, 504, 505}


def test_every_k6_code_is_covered():
    for code in K6_REPORTED:
        e = catalog.for_k6(code)
        assert e.k6_code == code and not e.k6_never_reported
    for code in (1300, 1600):
        assert catalog.for_k6(code).k6_never_reported
    for status in RFC9110_STATUSES:
        e = catalog.for_http_status(status)
        assert not e.id.startswith("http.status.unassigned"), status
        if status >= 400:
            assert catalog.for_k6(1000 + status) == e
    assert catalog.for_http_status(429).k6_code == 1429
    with pytest.raises(KeyError):
        catalog.for_k6(1234)


def test_unassigned_status_is_stable_and_resolvable():
    e = catalog.for_http_status(499)
    assert e.k6_code == 1499 and e.http_status == 499
    assert catalog.by_id(e.id) == e == catalog.by_code(e.code) == catalog.for_k6(1499)
    with pytest.raises(KeyError):
        catalog.for_http_status(600)


def test_k6_message_refines_shared_codes():
    assert catalog.for_k6(1000).id == "client.generic.error"
    assert catalog.for_k6(1000, "unexpected EOF").id == "http.body.truncated"
    assert catalog.for_k6(1000, "EOF").id == "network.tcp.closed"
    assert catalog.for_k6(1000, "something else").id == "client.generic.error"
    assert catalog.for_k6(1010, "remote error: tls: bad certificate").id == "tls.alert.remote"
    assert catalog.for_k6(1220, "read: connection reset by peer").id == "network.tcp.reset_by_peer"


# --------------------------------------------------------------------------
# The 32-bit codes
# --------------------------------------------------------------------------
def test_ids_and_codes_are_unique_and_decode_back():
    entries = catalog.entries()
    assert len({e.id for e in entries}) == len(entries)
    assert len({e.code for e in entries}) == len(entries)
    for e in entries:
        assert re.fullmatch(r"[a-z0-9]+\.[a-z0-9]+\.[a-z0-9_]+", e.id), e.id
        assert 0 <= e.code <= 0xFFFFFFFF
        domain, sub, err = catalog.decode_code(e.code)
        assert (domain, sub) == (e.domain, e.subdomain), e.id
        assert e.code >> 24 == catalog.DOMAINS[domain]
        assert (e.code >> 16) & 0xFF == catalog.SUBDOMAINS[(domain, sub)]
        assert err == e.code & 0xFFFF
        assert catalog.by_code(e.code) is e and catalog.by_id(e.id) is e
        assert e.description and "\n" not in e.description


def test_error_parts_are_the_protocols_own_numbers():
    for e in catalog.entries():
        if e.http_status is not None:
            assert e.code & 0xFFFF == e.http_status
        if e.grpc_status is not None:
            assert e.code & 0xFFFF == e.grpc_status[1]
        if e.h2_error is not None:
            assert e.code & 0xFFFF == e.h2_error[1]


# Pinned on purpose: these numbers are published and must never change. If this
# fails, a domain/subdomain/error number was edited: restore it (append, never renumber).
PINNED = {
    "http2.frame.too_large": 0x06041001,
    # one entry per domain/subdomain, so every byte of both fixed tables is pinned
    "ok.none.success": 0x00000000,
    "client.generic.error": 0x010103E8,
    "client.url.invalid": 0x010203FC,
    "client.timeout.request": 0x0103041A,
    "client.request.canceled": 0x01040001,
    "dns.lookup.no_such_host": 0x0201044D,
    "network.socket.non_tcp": 0x030103F2,
    "network.policy.blacklisted_ip": 0x03020456,
    "network.tcp.reset_by_peer": 0x030304C4,
    "network.dial.refused": 0x030404BC,
    "tls.general.error": 0x04010514,
    "tls.record.header": 0x04020515,
    "tls.x509.unknown_authority": 0x0403051E,
    "tls.alert.remote": 0x04040001,
    "tls.handshake.failed": 0x04050001,
    "http.status.service_unavailable": 0x050101F7,
    "http.body.decompression": 0x050206A5,
    "http2.general.error": 0x06000640,
    "http2.goaway.enhance_your_calm": 0x0601000B,
    "http2.stream.cancel": 0x06020008,
    "http2.connection.protocol_error": 0x06030001,
    "grpc.status.unavailable": 0x0701000E,
    "cloud.engine.database_error": 0x080107D0,
    "cloud.check.failed": 0x080207D1,
}


def test_codes_are_stable():
    assert {tuple(i.split(".")[:2]) for i in PINNED} == set(catalog.SUBDOMAINS), "pin the new subdomain"
    for id_, code in PINNED.items():
        assert catalog.by_id(id_).code == code, f"{id_}: 0x{catalog.by_id(id_).code:08X} != 0x{code:08X}"


def test_codes_do_not_depend_on_row_order(monkeypatch):
    rows = list(reversed(catalog_data._K6_ROWS))
    monkeypatch.setattr(catalog_data, "_K6_ROWS", rows)
    monkeypatch.setattr(catalog_data, "_HTTP_ROWS", list(reversed(catalog_data._HTTP_ROWS)))
    rebuilt = {e.id: e.code for e in catalog_data.build()}
    assert rebuilt == {e.id: e.code for e in catalog.entries()}


# --------------------------------------------------------------------------
# lookup and error objects
# --------------------------------------------------------------------------
def test_lookup_readings():
    assert [e.id for e in catalog.lookup("network.tcp.reset_by_peer")] == ["network.tcp.reset_by_peer"]
    assert catalog.lookup("0x0601000B") == [catalog.by_id("http2.goaway.enhance_your_calm")]
    assert catalog.lookup(str(0x0601000B)) == [catalog.by_id("http2.goaway.enhance_your_calm")]
    ids14 = [e.id for e in catalog.lookup("14")]
    assert "grpc.status.unavailable" in ids14
    unavailable = [e.id for e in catalog.lookup("UNAVAILABLE")]
    assert unavailable[0] == "grpc.status.unavailable"
    assert "http.status.service_unavailable" in unavailable
    calm = catalog.lookup("enhance_your_calm")
    assert {e.k6_code for e in calm} == {k6_formula(k, 0xB) for k in K6_BASES}
    # 1202 is k6's unknown errno and the hosted service's reset by peer
    assert {e.id for e in catalog.lookup("1202")} == {"network.tcp.unknown_errno", "network.tcp.reset_by_peer"}
    assert catalog.lookup("Gateway Time-out") == [catalog.for_http_status(504)]
    assert catalog.lookup("no-such-thing-at-all") == []


def test_error_object_shape():
    e = catalog.for_http_status(503)
    obj = catalog.error_object(e)
    assert obj["status"] == 503 and obj["id"] == e.id and obj["code"] == e.code
    assert obj["k6_error_code"] == 1503 and obj["message"] == e.description
    assert obj["http2_error"] is None and obj["grpc_status"] is None
    h2 = catalog.error_object(catalog.for_h2("stream", "CANCEL"), message="boom", rule="r1")
    assert h2["status"] == 0 and h2["message"] == "boom" and h2["rule"] == "r1"
    assert h2["http2_error"] == {"name": "CANCEL", "value": 8}
    assert h2["k6_error_code"] == k6_formula("stream", 8)
    g = catalog.error_object(catalog.for_grpc("UNAVAILABLE"))
    assert g["grpc_status"] == {"name": "UNAVAILABLE", "value": 14} and g["k6_error_code"] is None
    assert catalog.error_object(catalog.by_id("network.tcp.reset_by_peer"))["cloud_code"] == 1202
    for entry in catalog.entries():
        json.dumps(catalog.error_object(entry))
        json.dumps(entry.as_dict())
        assert list(catalog.error_object(entry))[:4] == ["status", "message", "id", "code"]
