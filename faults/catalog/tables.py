"""Protocol tables, one copy each; everyone else imports them from here.

- HTTP/2 error codes (RFC 9113 section 7): the names come from the h2 library's
  ``ErrorCodes``, the meanings are ours;
- gRPC status codes: grpcio is only a test dependency, so the table is written
  here and ``tests/unit/catalog/test_tables.py`` checks it against ``grpc.StatusCode``;
- TLS alerts (RFC 8446 section 6, RFC 5246 section 7.2): name -> code.
- one HTTP/2 client rule that the wire and the classifier both read
  (``goaway_aborts_first_stream``).

Parsing helpers raise ``KeyError`` with the reason for what is not a code.
"""

from __future__ import annotations

import h2.errors

_H2_MEANINGS = {
    0x0: "not an error, e.g. a graceful shutdown",
    0x1: "an unspecific protocol error was detected",
    0x2: "the endpoint hit an unexpected internal error",
    0x3: "the peer violated the flow-control protocol",
    0x4: "a SETTINGS frame was not acknowledged in time",
    0x5: "a frame arrived after the stream was half-closed",
    0x6: "a frame had an invalid size",
    0x7: "the stream was refused before any application processing",
    0x8: "the stream is no longer needed",
    0x9: "the header compression context could not be maintained",
    0xA: "the connection made for a CONNECT request was reset or closed abnormally",
    0xB: "the peer is behaving in a way that might generate excessive load",
    0xC: "the transport does not meet minimum security requirements",
    0xD: "HTTP/1.1 must be used instead of HTTP/2",
}
#: (value, NAME, meaning) for every code RFC 9113 defines
H2_CODES: list[tuple[int, str, str]] = [(int(e), e.name, _H2_MEANINGS[int(e)]) for e in h2.errors.ErrorCodes]
_H2_BY_NAME = {name: value for value, name, _ in H2_CODES}
_H2_BY_VALUE = {value: name for value, name, _ in H2_CODES}

#: (value, NAME, description)
GRPC_CODES: list[tuple[int, str, str]] = [
    (0, "OK", "Not an error; returned on success."),
    (1, "CANCELLED", "The operation was cancelled, typically by the caller."),
    (2, "UNKNOWN", "Unknown error, e.g. a status from an unknown error space or an error without details."),
    (3, "INVALID_ARGUMENT", "The client gave an invalid argument, whatever the system state."),
    (4, "DEADLINE_EXCEEDED", "The deadline expired before the operation could complete."),
    (5, "NOT_FOUND", "A requested entity (e.g. file or directory) was not found."),
    (6, "ALREADY_EXISTS", "The entity the client tried to create already exists."),
    (7, "PERMISSION_DENIED", "The caller is not permitted to execute the operation."),
    (8, "RESOURCE_EXHAUSTED", "A resource ran out, e.g. a per-user quota or the file system."),
    (9, "FAILED_PRECONDITION", "The system is not in the state the operation requires."),
    (10, "ABORTED", "The operation was aborted, typically by a concurrency conflict; retry at a higher level."),
    (11, "OUT_OF_RANGE", "The operation was attempted past the valid range, e.g. reading past end of file."),
    (12, "UNIMPLEMENTED", "The operation is not implemented or not supported by the service."),
    (13, "INTERNAL", "Internal error: an invariant of the underlying system is broken."),
    (14, "UNAVAILABLE", "The service is currently unavailable; a transient condition, retry with backoff."),
    (15, "DATA_LOSS", "Unrecoverable data loss or corruption."),
    (16, "UNAUTHENTICATED", "The request lacks valid authentication credentials."),
]
_GRPC_BY_NAME = {name: value for value, name, _ in GRPC_CODES}
_GRPC_BY_VALUE = {value: name for value, name, _ in GRPC_CODES}

#: fatal TLS alert names -> code
TLS_ALERTS: dict[str, int] = {
    "unexpected_message": 10, "bad_record_mac": 20, "record_overflow": 22, "handshake_failure": 40,
    "bad_certificate": 42, "unsupported_certificate": 43, "certificate_revoked": 44,
    "certificate_expired": 45, "certificate_unknown": 46, "illegal_parameter": 47, "unknown_ca": 48,
    "access_denied": 49, "decode_error": 50, "decrypt_error": 51, "protocol_version": 70,
    "insufficient_security": 71, "internal_error": 80, "inappropriate_fallback": 86,
    "missing_extension": 109, "unsupported_extension": 110, "unrecognized_name": 112,
    "bad_certificate_status_response": 113, "unknown_psk_identity": 115, "certificate_required": 116,
    "no_application_protocol": 120,
}
TLS_ALERT_NAMES = {v: k for k, v in TLS_ALERTS.items()}


def h2_code(name_or_int: int | str) -> int:
    """An HTTP/2 error code as an int: from an RFC 9113 name (any case), or a number
    (int, ``"11"`` or ``"0xb"``); any 32-bit value is accepted, known or not."""
    if isinstance(name_or_int, str):
        text = name_or_int.strip()
        if text.upper() in _H2_BY_NAME:
            return _H2_BY_NAME[text.upper()]
        try:
            value = int(text, 0)
        except ValueError:
            raise KeyError(f"{name_or_int!r} is not an HTTP/2 error name ({', '.join(_H2_BY_NAME)}) "
                           "or a number") from None
    else:
        value = int(name_or_int)
    if not 0 <= value <= 0xFFFFFFFF:
        raise KeyError(f"{value} is not a 32-bit HTTP/2 error code (0..2**32-1)")
    return value


def h2_name(code: int | str) -> str:
    """The RFC 9113 name of an HTTP/2 error code, or Go's ``unknown error code 0x1e``
    (Go's ``ErrCode.String()``, which k6 prints)."""
    code = h2_code(code)
    return _H2_BY_VALUE.get(code, f"unknown error code 0x{code:x}")


def h2_known(code: int) -> bool:
    return code in _H2_BY_VALUE


def goaway_aborts_first_stream(stream_id: int | None, code: int) -> bool:
    """A GOAWAY with an error code, above a connection's first stream (stream 1): Go aborts that
    stream with the error and does not retry it ("If the server is sending an error on a new
    connection, retrying the request on a new one probably isn't going to work": ``setGoAway``).
    Any other stream above last_stream_id was not processed and is retried elsewhere. Read by the
    wire (``faults.wire.collateral``: such a sibling stream is not ``goaway_refused``) and by the
    k6 profile (``http2.goaway.first_stream_aborted``)."""
    return stream_id == 1 and code != 0


def grpc_code(name_or_int: int | str) -> int:
    """A gRPC status as an int: from its name (any case, ``CANCELED`` too) or a number."""
    if isinstance(name_or_int, str):
        text = name_or_int.strip().upper()
        text = "CANCELLED" if text == "CANCELED" else text
        if text in _GRPC_BY_NAME:
            return _GRPC_BY_NAME[text]
        try:
            value = int(text, 0)
        except ValueError:
            raise KeyError(f"{name_or_int!r} is not a gRPC status name") from None
    else:
        value = int(name_or_int)
    if not 0 <= value <= 0xFFFFFFFF:
        raise KeyError(f"{value} is not a gRPC status code")
    return value


def grpc_name(code: int | str) -> str:
    """The gRPC status name of ``code``, or ``Code(17)`` (grpc-go's form) if unknown."""
    code = grpc_code(code)
    return _GRPC_BY_VALUE.get(code, f"Code({code})")


def grpc_known(code: int) -> bool:
    return code in _GRPC_BY_VALUE


# -- HTTP/3 (RFC 9114 section 8.1, RFC 9204 section 6) and QUIC transport errors (RFC 9000 20.1)
#: HTTP/3 application error codes: NAME -> value (aioquic's ``h3.connection.ErrorCode``)
H3_CODES: dict[str, int] = {
    "H3_NO_ERROR": 0x100, "H3_GENERAL_PROTOCOL_ERROR": 0x101, "H3_INTERNAL_ERROR": 0x102,
    "H3_STREAM_CREATION_ERROR": 0x103, "H3_CLOSED_CRITICAL_STREAM": 0x104, "H3_FRAME_UNEXPECTED": 0x105,
    "H3_FRAME_ERROR": 0x106, "H3_EXCESSIVE_LOAD": 0x107, "H3_ID_ERROR": 0x108, "H3_SETTINGS_ERROR": 0x109,
    "H3_MISSING_SETTINGS": 0x10A, "H3_REQUEST_REJECTED": 0x10B, "H3_REQUEST_CANCELLED": 0x10C,
    "H3_REQUEST_INCOMPLETE": 0x10D, "H3_MESSAGE_ERROR": 0x10E, "H3_CONNECT_ERROR": 0x10F,
    "H3_VERSION_FALLBACK": 0x110, "QPACK_DECOMPRESSION_FAILED": 0x200, "QPACK_ENCODER_STREAM_ERROR": 0x201,
    "QPACK_DECODER_STREAM_ERROR": 0x202,
}
#: QUIC transport error codes (a transport CONNECTION_CLOSE, frame type 0x1c)
QUIC_CODES: dict[str, int] = {
    "NO_ERROR": 0x0, "INTERNAL_ERROR": 0x1, "CONNECTION_REFUSED": 0x2, "FLOW_CONTROL_ERROR": 0x3,
    "STREAM_LIMIT_ERROR": 0x4, "STREAM_STATE_ERROR": 0x5, "FINAL_SIZE_ERROR": 0x6, "FRAME_ENCODING_ERROR": 0x7,
    "TRANSPORT_PARAMETER_ERROR": 0x8, "CONNECTION_ID_LIMIT_ERROR": 0x9, "PROTOCOL_VIOLATION": 0xA,
    "INVALID_TOKEN": 0xB, "APPLICATION_ERROR": 0xC, "CRYPTO_BUFFER_EXCEEDED": 0xD, "KEY_UPDATE_ERROR": 0xE,
    "AEAD_LIMIT_REACHED": 0xF, "NO_VIABLE_PATH": 0x10,
}
_H3_BY_VALUE = {v: k for k, v in H3_CODES.items()}
_QUIC_BY_VALUE = {v: k for k, v in QUIC_CODES.items()}
#: an HTTP/2 code named on an HTTP/3 flow: its HTTP/3 counterpart (RFC 9114 appendix A.4)
H2_TO_H3: dict[int, int] = {
    0x0: 0x100, 0x1: 0x101, 0x2: 0x102, 0x3: 0x101, 0x4: 0x101, 0x5: 0x105, 0x6: 0x106, 0x7: 0x10B,
    0x8: 0x10C, 0x9: 0x200, 0xA: 0x10F, 0xB: 0x107, 0xC: 0x101, 0xD: 0x110,
}
H3_TO_H2: dict[int, int] = {0x100: 0x0, 0x101: 0x1, 0x102: 0x2, 0x105: 0x5, 0x106: 0x6, 0x107: 0xB, 0x10B: 0x7,
                            0x10C: 0x8, 0x10F: 0xA, 0x110: 0xD, 0x200: 0x9}


def h3_code(name_or_int: int | str) -> int:
    """An HTTP/3 application error code as an int: an RFC 9114/9204 name (any case, the
    ``H3_`` prefix optional), or any 62-bit number."""
    if isinstance(name_or_int, str):
        text = name_or_int.strip().upper()
        for name in (text, "H3_" + text):
            if name in H3_CODES:
                return H3_CODES[name]
        try:
            value = int(text, 0)
        except ValueError:
            raise KeyError(f"{name_or_int!r} is not an HTTP/3 error name ({', '.join(H3_CODES)}) or a number") from None
    else:
        value = int(name_or_int)
    if not 0 <= value < 2**62:
        raise KeyError(f"{value} is not an HTTP/3 error code (0..2**62-1)")
    return value


def h3_name(code: int) -> str:
    return _H3_BY_VALUE.get(code, f"unknown HTTP/3 error 0x{code:x}")


def quic_code(name_or_int: int | str) -> int:
    """A QUIC transport error code: an RFC 9000 name (any case) or a number."""
    if isinstance(name_or_int, str):
        text = name_or_int.strip().upper()
        if text in QUIC_CODES:
            return QUIC_CODES[text]
        try:
            value = int(text, 0)
        except ValueError:
            raise KeyError(f"{name_or_int!r} is not a QUIC transport error name ({', '.join(QUIC_CODES)}) "
                           "or a number") from None
    else:
        value = int(name_or_int)
    if not 0 <= value < 2**62:
        raise KeyError(f"{value} is not a QUIC error code (0..2**62-1)")
    return value


def quic_name(code: int) -> str:
    if code in _QUIC_BY_VALUE:
        return _QUIC_BY_VALUE[code]
    if 0x100 <= code <= 0x1FF:
        return f"CRYPTO_ERROR 0x{code:x} (TLS alert {TLS_ALERT_NAMES.get(code - 0x100, code - 0x100)})"
    return f"unknown QUIC error 0x{code:x}"


def close_code_name(code: int, space: str) -> str:
    """A QUIC/HTTP/3 close code's name by its space: a QUIC transport error (``"transport"``,
    CONNECTION_CLOSE 0x1c) or an HTTP/3 application one (any other space: 0x1d, RESET_STREAM, GOAWAY)."""
    return quic_name(code) if space == "transport" else h3_name(code)


def stream_code_for_h3(name_or_int: int | str) -> int:
    """A stream/GOAWAY ``code=`` value as used on an HTTP/3 flow: an HTTP/3 name as is,
    an HTTP/2 name as its HTTP/3 counterpart, a number as is."""
    if isinstance(name_or_int, str) and name_or_int.strip().upper() in _H2_BY_NAME:
        return H2_TO_H3.get(_H2_BY_NAME[name_or_int.strip().upper()], 0x102)
    return h3_code(name_or_int)
