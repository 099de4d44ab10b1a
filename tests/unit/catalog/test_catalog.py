"""The catalog held to the truth: k6's formulas, stable codes (the seeds' tables:
test_catalog_vs_shared_notes.py)."""

from __future__ import annotations

import json
import re

import pytest

from faults import catalog
from faults.catalog import data as catalog_data

# The checks against the project's notes outside the repo (../shared) are in
# test_catalog_vs_shared_notes.py.


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
    "http3.stream.reset": 0x09010001,
    "http3.goaway.received": 0x09020001,
    "http3.connection.closed": 0x09030001,
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
