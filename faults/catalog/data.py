"""The catalog's data: every outcome a client can report, in every taxonomy.

Sources: k6 v1.1.0's classifier as read from its source (``error_codes.go``,
facts in the project's k6 notes), RFC 9110 (HTTP statuses, plus the IANA
registry's other common ones), RFC 9113 section 7 (HTTP/2 error codes), the
gRPC status codes, and the hosted load-testing service's own numbering.

Rows here are plain literals; ``ENTRIES`` is built once at import. The
32-bit ``code`` of every entry is packed from its id by the fixed tables in
``entry.py``; the error part is written here (or is the protocol's own
number), never derived from position.
"""

from __future__ import annotations

import re

from faults.catalog.entry import Entry, make_code
from faults.catalog.tables import GRPC_CODES, H2_CODES

# --------------------------------------------------------------------------
# Hand-written entries: k6's own codes and their real-world variants.
# (id, error part, name, k6_code, k6_message, cloud_code, description, cause,
#  produced_by, aliases, k6_never_reported)
# --------------------------------------------------------------------------
_K6_ROWS: list[tuple] = [
    ("ok.none.success", 0, "Success", 0, "", None,
     "No error: the request completed and the HTTP status is below 400.",
     "No transport, body or status error (status < 400); k6 reports error_code 0.",
     ("delay ms=<N below the client timeout>", "throttle bytes_per_s=<N fast enough for the client timeout>",
      "goaway code=NO_ERROR when=after_response then=drain"),
     (), False),
    # ---- client: generic, URL, timeouts, cancellation
    ("client.generic.error", 1000, "Generic error", 1000, "<innermost Go error text>", 999,
     "Generic (unknown) error: k6's classifier matched nothing and reports the innermost Go error's text.",
     "Any error k6 does not classify: EOF, unexpected EOF, expired certificates, unsupported scheme, "
     "missing host, context canceled...",
     (), ("defaultErrorCode",), False),
    ("client.url.invalid", 1020, "Invalid URL", 1020, "invalid URL: <url.Parse error>", None,
     "The request URL could not be parsed; k6 sends nothing and emits no metrics for it.",
     "url.Parse failed in the parse stage (a missing or unsupported scheme or host gives 1000 instead).",
     (), ("invalidURLErrorCode",), False),
    ("client.timeout.request", 1050, "Request timeout", 1050, "request timeout", 1010,
     "Request timeout (context deadline exceeded): the response did not complete within the request's "
     "timeout (k6 default 60 s).",
     "A timeout error (context deadline, i/o timeout, DNS timeout) outside dialing, or the body read "
     "hit the deadline; also a dial timeout when the request timeout is under 30 s.",
     ("hang", "delay ms=<N above the client timeout>",
      "throttle bytes_per_s=<N too slow to finish within the client timeout>", "tls handshake=stall",
      "dns answer=drop", "stall after_events=<K>"),
     ("requestTimeoutErrorCode", "context deadline exceeded"), False),
    ("client.request.canceled", 1, "Request canceled", 1000, "context canceled", 1301,
     "Request canceled: the request's context was canceled (typically at the end of a test or after "
     "a timeout); k6 reports it as a generic error.",
     "The request context was canceled before the response completed.",
     (), (), False),
    # ---- DNS
    ("dns.lookup.error", 1100, "DNS error", 1100,
     "<DNS error text, e.g. lookup example.test on 127.0.0.53:53: server misbehaving>", 1100,
     "Generic DNS error: the name lookup failed for a reason other than 'no such host' or a timeout.",
     "A *net.DNSError that is not 'no such host' and not a timeout (a DNS timeout gives 1050).",
     ("dns rcode=servfail", "dns rcode=refused", "dns rcode=formerr", "dns rcode=notimp"),
     ("defaultDNSErrorCode",), False),
    ("dns.lookup.no_such_host", 1101, "No such host", 1101, "lookup: no such host", 1101,
     "The host name does not exist in DNS (lookup: no such host).",
     "A *net.DNSError whose error is exactly 'no such host'.",
     ("dns rcode=nxdomain", "dns answer=empty"), ("dnsNoSuchHostErrorCode",), False),
    ("dns.lookup.no_matching_address", 1, "No address for DNS policy", 1000, "lookup <host>: no such host", None,
     "The name resolved, but no address matched k6's dns.policy (onlyIPv4/onlyIPv6); k6 reports a "
     "generic error, not 1101.",
     "k6's dialer returns a plain error when the DNS policy filters out every address.",
     (), (), False),
    # ---- network: non-TCP, policies, TCP, dialing
    ("network.socket.non_tcp", 1010, "Non-TCP network error", 1010,
     "<OpError text, e.g. remote error: tls: handshake failure>", 1201,
     "Non-TCP network error (a net.OpError whose network is not tcp), the request did not use a plain "
     "TCP connection; in practice every TLS alert lands here.",
     "A *net.OpError with Net other than tcp/tcp6: crypto/tls reports alerts this way.",
     ("tls handshake=alert alert=<NAME>",), ("defaultNetNonTCPErrorCode",), False),
    ("network.policy.blacklisted_ip", 1110, "Blacklisted IP", 1110, "ip is blacklisted", None,
     "The target IP address is in one of k6's blacklistIPs ranges; nothing was sent.",
     "netext.BlackListedIPError from k6's dialer.",
     (), ("blackListedIPErrorCode",), False),
    ("network.policy.blocked_hostname", 1111, "Blocked hostname", 1111, "hostname is blocked", None,
     "The host name matches k6's blockHostnames option; nothing was sent.",
     "netext.BlockedHostError from k6's dialer (host names only, never IP literals).",
     (), ("blockedHostnameErrorCode",), False),
    ("network.tcp.error", 1200, "TCP error", 1200,
     "<OpError text, e.g. write tcp 127.0.0.1:5000->127.0.0.1:8080: use of closed network connection>", 1200,
     "Generic TCP error after the connection was established: a read or write failed for another reason.",
     "A tcp *net.OpError (not dial) that is not a reset, a broken pipe or a bare errno.",
     ("close when=mid_request",), ("defaultTCPErrorCode",), False),
    ("network.tcp.broken_pipe", 1201, "Broken pipe", 1201, "<op>: broken pipe", 1203,
     "Broken pipe: a write failed because the other side had already closed the connection.",
     "A tcp *net.OpError wrapping EPIPE (any operation).",
     (), ("tcpBrokenPipeErrorCode",), False),
    ("network.tcp.unknown_errno", 1202, "Unknown errno", 1202,
     "<op>: unknown errno `<n>` on <GOOS> with message `<errno text>`", 1211,
     "A read or write failed with a bare OS errno k6 does not recognise (rare: Go usually wraps errnos).",
     "A tcp *net.OpError, not dial, whose error is a bare syscall.Errno.",
     (), ("netUnknownErrnoErrorCode",), False),
    ("network.tcp.reset_by_peer", 1220, "Reset by peer", 1220, "<op>: connection reset by peer", 1202,
     "Connection reset by peer: the server (or a middlebox) aborted the TCP connection with an RST.",
     "A tcp *net.OpError wrapping ECONNRESET (any operation, dial included).",
     ("reset when=before_response", "reset when=after_headers", "reset when=mid_body", "tls handshake=reset",
      "reset when=mid_request"),
     ("tcpResetByPeerErrorCode", "ECONNRESET"), False),
    ("network.tcp.closed", 1, "Connection closed (EOF)", 1000, "EOF", None,
     "The server closed the connection (FIN) before sending any response; k6 reports the bare EOF as "
     "a generic error.",
     "The connection ended before a response or handshake completed; Go retries such a request on a "
     "reused keep-alive connection, so the client may not see it.",
     ("close when=before_response", "hang ms=<N>", "tls handshake=close"), (), False),
    ("network.tcp.syscall_error", 2, "System call error", 1200,
     "<OpError text with an errno, e.g. read tcp 10.0.0.1:5000->10.0.0.2:80: no route to host>", 1204,
     "A system call failed with an errno on read or write (e.g. EHOSTUNREACH, ECONNABORTED); k6 "
     "reports it as a generic TCP error.",
     "A tcp *net.OpError wrapping an os.SyscallError other than ECONNRESET/EPIPE.",
     (), (), False),
    ("network.dial.error", 1210, "Dial error", 1210, "dial tcp <address>: <error text>", 1210,
     "Generic dial error: the TCP connection could not be opened for a reason k6 does not name.",
     "A dial *net.OpError that is not an errno and whose inner error classifies as 1000.",
     (), ("tcpDialErrorCode",), False),
    ("network.dial.timeout", 1211, "Dial timeout", 1211, "dial: i/o timeout", 1212,
     "Dial timeout: the TCP connection was not established within k6's 30 s dialer timeout.",
     "A timeout whose first OpError is a dial; needs a request timeout above 30 s, else 1050.",
     ("blackhole",), ("tcpDialTimeoutErrorCode",), False),
    ("network.dial.refused", 1212, "Connection refused", 1212, "dial: connection refused", None,
     "Connection refused: nothing listens on the target port (the dial got an RST).",
     "A dial *net.OpError wrapping ECONNREFUSED.",
     ("refuse",), ("tcpDialRefusedErrorCode", "ECONNREFUSED"), False),
    ("network.dial.unknown_errno", 1213, "Dial errno", 1213,
     "dial: unknown errno <n> error with msg `<errno text>`", None,
     "The dial failed with another OS errno (e.g. 113 no route to host).",
     "A dial *net.OpError wrapping an errno other than ECONNREFUSED/ECONNRESET/EPIPE.",
     (), ("tcpDialUnknownErrnoCode",), False),
    # ---- TLS
    ("tls.general.error", 1300, "General TLS error", 1300, "", None,
     "General TLS error: listed in k6's docs but never reported by k6 (TLS failures give 1000, 1010, "
     "1220, 1301, 1310 or 1311).",
     "Never returned: defaultTLSErrorCode is a constant only.",
     (), ("defaultTLSErrorCode",), True),
    ("tls.record.header", 1301, "TLS record header error", 1301,
     "tls: first record does not look like a TLS handshake", None,
     "The server's first bytes were not a TLS record (e.g. plain HTTP answered on an https URL).",
     "A tls.RecordHeaderError (also oversized records or a wrong record version).",
     ("tls handshake=plaintext",), ("tlsHeaderErrorCode",), False),
    ("tls.x509.unknown_authority", 1310, "Unknown authority", 1310, "x509: unknown authority", None,
     "The server certificate's issuer is not trusted (unknown CA, self-signed, or missing intermediate).",
     "An x509.UnknownAuthorityError during verification.",
     ("tls cert=untrusted", "tls cert=self_signed", "tls cert=incomplete_chain", "tls cert=sha1"),
     ("x509UnknownAuthorityErrorCode",), False),
    ("tls.x509.hostname_mismatch", 1311, "Hostname mismatch", 1311, "x509: certificate doesn't match hostname", None,
     "The server certificate is not valid for the requested host name.",
     "An x509.HostnameError during verification.",
     ("tls cert=wrong_host",), ("x509HostnameErrorCode",), False),
    ("tls.x509.invalid_certificate", 1, "Certificate expired or not yet valid", 1000,
     "x509: certificate has expired or is not yet valid: current time <time> is after <time>", None,
     "The server certificate is outside its validity period; k6 reports it as a generic error, not 13xx.",
     "An x509.CertificateInvalidError, which k6's classifier does not match (checked before host and CA).",
     ("tls cert=expired", "tls cert=not_yet_valid"), (), False),
    ("tls.x509.insecure_algorithm", 2, "Insecure certificate algorithm", 1000,
     "x509: cannot verify signature: insecure algorithm <algorithm>", None,
     "The certificate is signed with an algorithm Go refuses; k6 reports a generic error. (A SHA-1 "
     "signed leaf does not land here: k6 1.1.0 reports it as 1310 unknown authority, measured.)",
     "An x509.InsecureAlgorithmError, which k6's classifier does not match.",
     (), (), False),
    ("tls.alert.remote", 1, "TLS alert from server", 1010, "remote error: tls: <alert description>", None,
     "The server aborted the TLS handshake with an alert (handshake failure, bad or required "
     "certificate, protocol version...).",
     "crypto/tls wraps a received alert in a non-TCP *net.OpError, so k6 reports 1010.",
     ("tls handshake=alert alert=<NAME>", "tls client_cert=require"), (), False),
    ("tls.alert.local", 2, "TLS alert from client", 1010, "local error: tls: <text>", None,
     "The client's own TLS stack aborted the handshake (e.g. unexpected message).",
     "crypto/tls returns a local alert as a non-TCP *net.OpError, so k6 reports 1010.",
     (), (), False),
    ("tls.handshake.failed", 1, "TLS handshake failed", 1000,
     "<handshake error, e.g. tls: server selected unsupported protocol version 301>", None,
     "The TLS handshake failed without an alert or certificate error; k6 reports a generic error.",
     "A plain crypto/tls error, e.g. no common version, or EOF when the server closes mid-handshake.",
     (), (), False),
    # ---- HTTP bodies
    ("http.body.decompression", 1701, "Decompression error", 1701,
     "error decompressing response body (<decoder error, e.g. gzip: invalid header>)", None,
     "The response body could not be decompressed according to its Content-Encoding.",
     "Building a gzip/deflate/br/zstd decoder failed, or decoding hit a known corruption error.",
     ("bad_gzip",), ("responseDecompressionErrorCode",), False),
    ("http.body.truncated", 1, "Truncated body", 1000, "unexpected EOF", None,
     "The connection closed before the announced Content-Length of the body arrived; k6 reports a "
     "generic error.",
     "io.ErrUnexpectedEOF while reading the body; k6 does not classify it.",
     ("truncate", "close when=after_headers", "close when=mid_body"), (), False),
    # ---- HTTP/2 outside the per-code tables
    ("http2.general.error", 1600, "Generic HTTP/2 error", 1600, "", None,
     "Generic HTTP/2 error: listed in k6's docs but never reported by k6's classifier (only an HTTP "
     "status 600 would give 1600).",
     "Never returned by the classifier: defaultHTTP2ErrorCode is a constant only.",
     (), ("defaultHTTP2ErrorCode",), True),
    ("http2.goaway.first_stream_aborted", 0x1000, "GOAWAY on a connection's first stream", 1000,
     "http2: Transport received GOAWAY from server ErrCode:<NAME>", None,
     "A GOAWAY with an error code excluded stream 1, the connection's first request; Go aborts it with "
     "a plain error, so k6 reports a generic error instead of 1611-1624.",
     "x/net aborts stream 1 (above last_stream_id, non-NO_ERROR code) without a GoAwayError.",
     (), (), False),
    ("http2.frame.too_large", 0x1001, "HTTP/2 frame too large", 1000, "http2: frame too large", None,
     "The server sent a frame larger than the client's SETTINGS_MAX_FRAME_SIZE; Go's framer rejects it "
     "before any HTTP/2 connection error exists, so k6 reports a generic error, not 1657.",
     "x/net/http2 Framer.ReadFrame returns ErrFrameTooLarge, which k6's classifier does not match "
     "(measured with k6 1.1.0).",
     ("h2_violation kind=oversized_frame",), ("ErrFrameTooLarge",), False),
    # ---- HTTP/3 and QUIC: k6 does not speak HTTP/3 (its clients stay on TCP); curl and aioquic do.
    # produced_by stays empty: those specs give these outcomes on HTTP/3 flows only (docs/http3.md)
    ("http3.stream.reset", 0x1, "HTTP/3 stream reset", None, "", None,
     "The server reset this request's stream (QUIC RESET_STREAM, with STOP_SENDING while the request was "
     "still arriving) with an HTTP/3 error code; the connection and its other streams go on.",
     "RESET_STREAM with an HTTP/3 application error code (RFC 9114 section 8.1).",
     (), ("RESET_STREAM",), True),
    ("http3.goaway.received", 0x1, "HTTP/3 GOAWAY", None, "", None,
     "The server sent an HTTP/3 GOAWAY: requests on streams at or above its stream id were not processed "
     "(a client may retry them on a new connection); then the connection closed or drained.",
     "GOAWAY on the server's control stream (RFC 9114 section 5.2).",
     (), ("GOAWAY",), True),
    ("http3.connection.closed", 0x1, "QUIC connection closed (application error)", None, "", None,
     "The server closed the QUIC connection with an HTTP/3 application error (CONNECTION_CLOSE 0x1d): "
     "every open stream on it ended.",
     "CONNECTION_CLOSE of type 0x1d with an HTTP/3 error code (RFC 9000 section 19.19).",
     (), ("CONNECTION_CLOSE",), True),
    ("http3.connection.transport_error", 0x2, "QUIC connection closed (transport error)", None, "", None,
     "The server closed the QUIC connection with a QUIC transport error (CONNECTION_CLOSE 0x1c).",
     "CONNECTION_CLOSE of type 0x1c with a transport error code (RFC 9000 section 20.1).",
     (), (), True),
    ("http3.connection.client_closed", 0x3, "QUIC connection closed by the client", None, "", None,
     "The HTTP/3 client closed the QUIC connection itself (aioquic after a short body on another stream: "
     "H3_MESSAGE_ERROR); this stream was still open and ended with it. No fault ended it.",
     "A CONNECTION_CLOSE from the client (RFC 9000 section 19.19).",
     (), (), True),
    # ---- hosted-service-only codes
    ("cloud.engine.database_error", 2000, "Database operation failed", None, "", 2000,
     "Database operation failed: an error of the hosted service's engine, not a k6 error code.",
     "", (), (), False),
    ("cloud.check.failed", 2001, "Checkpoint failed", None, "", 2001,
     "A checkpoint (check) result was false: a hosted-service code; k6 counts checks in the checks "
     "metric, never as an error code.",
     "", (), (), False),
]

# --------------------------------------------------------------------------
# HTTP statuses: RFC 9110 section 15 (all), plus the other IANA-registered
# statuses in common use. (status, RFC 9110/IANA name, aliases, description)
# Aliases hold older reason phrases (RFC 2616/7231), as used by seed 002.
# --------------------------------------------------------------------------
_HTTP_ROWS: list[tuple[int, str, tuple[str, ...], str]] = [
    (100, "Continue", (), "The client should go on sending the request body."),
    (101, "Switching Protocols", (), "The server switches to the protocol the client asked for (e.g. WebSocket)."),
    (102, "Processing", (), "The server has accepted the request but not finished it yet (WebDAV)."),
    (103, "Early Hints", (), "Preliminary headers sent before the final response."),
    (200, "OK", (), "The request succeeded."),
    (201, "Created", (), "The request succeeded and created a new resource."),
    (202, "Accepted", (), "The request was accepted for processing, which has not finished."),
    (203, "Non-Authoritative Information", (), "Success, but the content was modified by a transforming proxy."),
    (204, "No Content", (), "Success, with no content in the response."),
    (205, "Reset Content", (), "Success; the client should reset the document view (e.g. clear a form)."),
    (206, "Partial Content", (), "Success for part of the resource, as asked by a Range request."),
    (207, "Multi-Status", (), "Several status values for several operations (WebDAV)."),
    (208, "Already Reported", (), "Members already listed in an earlier part of the response (WebDAV)."),
    (226, "IM Used", (), "Success; the response is the result of instance manipulations (delta encoding)."),
    (300, "Multiple Choices", (), "The resource has several representations to choose from."),
    (301, "Moved Permanently", (), "The resource has a new permanent URI."),
    (302, "Found", ("Moved Temporarily",), "The resource is temporarily at another URI."),
    (303, "See Other", (), "The answer is at another URI, to be fetched with GET."),
    (304, "Not Modified", (), "The cached copy is still valid; no content is sent."),
    (305, "Use Proxy", (), "Deprecated: the resource must be accessed through a proxy."),
    (306, "(Unused)", ("Unused", "Switch Proxy"), "Reserved: no longer used."),
    (307, "Temporary Redirect", (), "The resource is temporarily at another URI; repeat the same method."),
    (308, "Permanent Redirect", (), "The resource has a new permanent URI; repeat the same method."),
    (400, "Bad Request", (), "The server cannot process the request because it is malformed."),
    (401, "Unauthorized", (), "The request lacks valid authentication credentials."),
    (402, "Payment Required", (), "Reserved for future use (sometimes used for payment or quota)."),
    (403, "Forbidden", (), "The server understood the request but refuses to authorize it."),
    (404, "Not Found", (), "The server found nothing at the requested URI."),
    (405, "Method Not Allowed", (), "The method is not supported by the target resource."),
    (406, "Not Acceptable", (), "No representation matches the request's Accept headers."),
    (407, "Proxy Authentication Required", (), "The client must authenticate with the proxy."),
    (408, "Request Timeout", ("Request Time-out",), "The server timed out waiting for the request."),
    (409, "Conflict", (), "The request conflicts with the current state of the resource."),
    (410, "Gone", (), "The resource is permanently gone."),
    (411, "Length Required", (), "The server requires a Content-Length."),
    (412, "Precondition Failed", (), "A precondition in the request headers evaluated to false."),
    (413, "Content Too Large", ("Payload Too Large", "Request Entity Too Large"),
     "The request content is larger than the server will process."),
    (414, "URI Too Long", ("Request-URI Too Long", "Request-URI Too Large"),
     "The request target is longer than the server will interpret."),
    (415, "Unsupported Media Type", (), "The request content's media type or encoding is not supported."),
    (416, "Range Not Satisfiable", ("Requested Range Not Satisfiable",),
     "None of the requested ranges overlap the resource."),
    (417, "Expectation Failed", (), "The server cannot meet the request's Expect header."),
    (418, "(Unused)", ("I'm a teapot",), "Reserved: unused (formerly the teapot joke)."),
    (421, "Misdirected Request", (), "The request reached a server that cannot answer for this host."),
    (422, "Unprocessable Content", ("Unprocessable Entity",),
     "The request is well-formed but its content cannot be processed."),
    (423, "Locked", (), "The resource is locked (WebDAV)."),
    (424, "Failed Dependency", (), "The request failed because an earlier request failed (WebDAV)."),
    (425, "Too Early", (), "The server will not process a request that might be replayed (TLS early data)."),
    (426, "Upgrade Required", (), "The client must switch to another protocol."),
    (428, "Precondition Required", (), "The server requires the request to be conditional."),
    (429, "Too Many Requests", (), "The client sent too many requests in a given time (rate limiting)."),
    (431, "Request Header Fields Too Large", (), "The request's header fields are too large."),
    (451, "Unavailable For Legal Reasons", (), "The resource is unavailable for legal reasons."),
    (500, "Internal Server Error", (), "The server hit an unexpected condition."),
    (501, "Not Implemented", (), "The server does not support the functionality required."),
    (502, "Bad Gateway", (), "A gateway or proxy got an invalid response from the upstream server."),
    (503, "Service Unavailable", (), "The server is temporarily unable to handle the request (overload or maintenance)."),
    (504, "Gateway Timeout", ("Gateway Time-out",), "A gateway or proxy did not get a timely response from the upstream."),
    (505, "HTTP Version Not Supported", (), "The server does not support the request's HTTP version."),
    (506, "Variant Also Negotiates", (), "The server's content negotiation is misconfigured."),
    (507, "Insufficient Storage", (), "The server cannot store what is needed to complete the request (WebDAV)."),
    (508, "Loop Detected", (), "The server found an infinite loop while processing (WebDAV)."),
    (510, "Not Extended", (), "Further extensions to the request are required (obsoleted)."),
    (511, "Network Authentication Required", (), "The client must authenticate to gain network access (captive portal)."),
]

H2_UNKNOWN_ERROR = 0xFFFF  # error part of the "unknown code" entries

#: k6's bases for the three HTTP/2 error types (``errorCodeForError``).
K6_H2_BASE: dict[str, int] = {"goaway": 1610, "stream": 1630, "connection": 1650}

# Which h2_violation kind of ours makes the client detect which connection error.
# Measured with k6 1.1.0: window_overflow is never detected (k6 reopens its window as it
# reads; 1000 unexpected EOF) and oversized_frame gives 1000 "http2: frame too large".
_H2_VIOLATIONS = {
    "PROTOCOL_ERROR": "h2_violation kind=data_on_idle_stream",
    "COMPRESSION_ERROR": "h2_violation kind=bad_hpack",
}
# Stream errors that Go retries when they arrive before the response headers.
_H2_RETRIED_BEFORE_HEADERS = {"REFUSED_STREAM", "PROTOCOL_ERROR"}

def slug(name: str) -> str:
    """``"Non-Authoritative Information"`` -> ``"non_authoritative_information"``."""
    s = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    return s


def http_status_id(status: int, name: str) -> str:
    return f"http.status.unused_{status}" if name == "(Unused)" else f"http.status.{slug(name)}"


def k6_code_for_status(status: int) -> int:
    """k6's ``error_code`` for a response with no error: ``1000 + status`` from 400 on, else 0."""
    return 1000 + status if status >= 400 else 0


def k6_h2_code(kind: str, code: int) -> int:
    """k6's formula: base (1610/1630/1650) + code + 1 for code <= 0xd, else the bare base."""
    base = K6_H2_BASE[kind]
    return base + code + 1 if 0 <= code <= 0xD else base


def h2_message(kind: str, label: str) -> str:
    return {
        "goaway": f"http2: received GoAway with http2 ErrCode {label}",
        "stream": f"http2: stream error with http2 ErrCode {label}",
        "connection": f"http2: connection error with http2 ErrCode {label}",
    }[kind]


def _status_entry(status: int, name: str, aliases: tuple[str, ...], desc: str) -> Entry:
    k6 = k6_code_for_status(status)
    if status >= 400:
        cause = f"The server answered HTTP {status}; with no other error k6 reports 1000 + status = {k6}."
    else:
        cause = f"The server answered HTTP {status}; below 400 k6 reports error_code 0."
    return Entry(
        id=http_status_id(status, name),
        code=make_code("http", "status", status),
        name=name,
        description=desc,
        k6_code=k6,
        k6_message="",
        http_status=status,
        produced_by=(f"status code={status}",),
        cause=cause,
        aliases=aliases,
    )


def unassigned_status_entry(status: int) -> Entry:
    """An entry for a 3-digit status with no registered name (e.g. 499, 520)."""
    klass = {1: "informational", 2: "success", 3: "redirection", 4: "client error", 5: "server error"}.get(
        status // 100, "non-standard")
    return _status_entry(status, f"Unassigned {status}", (),
                         f"A status code with no registered meaning, in the {klass} class.")


def _h2_entries() -> list[Entry]:
    out = []
    for kind in ("goaway", "stream", "connection"):
        frame = {"goaway": "GOAWAY", "stream": "RST_STREAM", "connection": "connection error"}[kind]
        for value, name, meaning in H2_CODES:
            if kind == "goaway":
                desc = (f"The server sent GOAWAY {name} (0x{value:x}: {meaning}) and closed the connection "
                        "while this request was still in flight.")
                cause = "http2.GoAwayError: GOAWAY followed by a close while streams remained."
                produced = (f"goaway code={name} last_stream=this then=close",)
            elif kind == "stream":
                desc = f"The server reset this request's stream with RST_STREAM {name} (0x{value:x}: {meaning})."
                cause = "http2.StreamError received from the peer."
                if name in _H2_RETRIED_BEFORE_HEADERS:
                    cause += " Before response headers Go retries this code (up to 7 times)."
                    produced = (f"rst_stream code={name} when=after_headers", f"rst_stream code={name} when=mid_body")
                else:
                    produced = tuple(f"rst_stream code={name} when={w}"
                                     for w in ("before_response", "after_headers", "mid_body"))
            else:
                desc = f"The client detected an HTTP/2 connection error {name} (0x{value:x}: {meaning})."
                cause = "http2.ConnectionError raised by the client's own HTTP/2 stack."
                produced = (_H2_VIOLATIONS[name],) if name in _H2_VIOLATIONS else ()
            out.append(Entry(
                id=f"http2.{kind}.{name.lower()}",
                code=make_code("http2", kind, value),
                name=name,
                description=desc,
                k6_code=k6_h2_code(kind, value),
                k6_message=h2_message(kind, name),
                h2_error=(name, value),
                produced_by=produced,
                cause=cause,
                aliases=(f"{frame} {name}",),
            ))
        base = K6_H2_BASE[kind]
        go_name = {"goaway": "unknownHTTP2GoAwayErrorCode", "stream": "unknownHTTP2StreamErrorCode",
                   "connection": "unknownHTTP2ConnectionErrorCode"}[kind]
        spec = {"goaway": "goaway code=<integer above 13> last_stream=this then=close",
                "stream": "rst_stream code=<integer above 13> when=after_headers"}.get(kind)
        out.append(Entry(
            id=f"http2.{kind}.unknown",
            code=make_code("http2", kind, H2_UNKNOWN_ERROR),
            name=f"unknown {frame} code",
            description=(f"General HTTP/2 {'GoAway' if kind == 'goaway' else kind} error: an HTTP/2 error code "
                         "k6 does not know (above 0xd)."),
            k6_code=base,
            k6_message=h2_message(kind, "unknown error code 0x<hex>"),
            produced_by=(spec,) if spec else (),
            cause=f"k6 adds no offset for codes above 0xd, so they all give the bare {base}.",
            aliases=(go_name,),
        ))
    return out


def _grpc_entries() -> list[Entry]:
    out = []
    for value, name, desc in GRPC_CODES:
        out.append(Entry(
            id=f"grpc.status.{name.lower()}",
            code=make_code("grpc", "status", value),
            name=name,
            description=desc,
            k6_code=None,
            k6_message="",
            grpc_status=(name, value),
            produced_by=(f"grpc_status code={name}",),
            cause=(f"The server's trailers carried grpc-status {value}. k6/net/grpc never sets error_code: "
                   f"response.status is {value} and response.error holds the status."),
        ))
    return out


def _k6_entries() -> list[Entry]:
    out = []
    for (id_, err, name, k6, msg, cloud, desc, cause, produced, aliases, never) in _K6_ROWS:
        dom, sub, _ = id_.split(".")
        out.append(Entry(
            id=id_, code=make_code(dom, sub, err), name=name, description=desc, k6_code=k6,
            k6_message=msg, cloud_code=cloud, produced_by=tuple(produced), cause=cause,
            aliases=tuple(aliases), k6_never_reported=never,
        ))
    return out


def build() -> tuple[Entry, ...]:
    """Every catalog entry, in display order (order has no effect on ids or codes)."""
    entries = _k6_entries()
    entries += [_status_entry(*row) for row in _HTTP_ROWS]
    entries += _h2_entries()
    entries += _grpc_entries()
    return tuple(entries)


ENTRIES: tuple[Entry, ...] = build()
