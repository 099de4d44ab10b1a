"""The protocol tables (faults.catalog.tables) against the libraries that own them."""

import grpc
import h2.errors
import pytest

from faults.catalog import tables


def test_h2_codes_are_h2s():
    assert [(v, n) for v, n, _ in tables.H2_CODES] == [(int(e), e.name) for e in h2.errors.ErrorCodes]


def test_grpc_codes_are_grpcios():
    assert [(v, n) for v, n, _ in tables.GRPC_CODES] == [(s.value[0], s.name) for s in grpc.StatusCode]


def test_parsing():
    assert tables.h2_code("enhance_your_calm") == 0xB
    assert tables.h2_code("0x1f") == 31 and tables.h2_name(31) == "unknown error code 0x1f"
    assert tables.grpc_code("canceled") == 1 and tables.grpc_name(17) == "Code(17)"
    for bad in ("NOPE", "-1", str(2**32)):
        with pytest.raises(KeyError):
            tables.h2_code(bad)


def test_tls_alerts_are_rfc_codes():
    assert tables.TLS_ALERTS["unknown_ca"] == 48 and tables.TLS_ALERT_NAMES[116] == "certificate_required"


def test_a_close_code_is_named_by_its_space():
    assert tables.close_code_name(0xA, "transport") == "PROTOCOL_VIOLATION" == tables.quic_name(0xA)
    assert tables.close_code_name(0x10C, "application") == "H3_REQUEST_CANCELLED" == tables.h3_name(0x10C)
    assert tables.close_code_name(0xA, "application") == tables.h3_name(0xA)  # no HTTP/3 code 0xA


def test_a_goaway_with_an_error_aborts_only_the_first_stream():
    assert tables.goaway_aborts_first_stream(1, 0xB)
    assert not tables.goaway_aborts_first_stream(1, 0x0)  # NO_ERROR: retried
    assert not tables.goaway_aborts_first_stream(3, 0xB) and not tables.goaway_aborts_first_stream(None, 0xB)
