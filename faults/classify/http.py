"""An HTTP flow -> its client-neutral ``Outcome``.

The proxy cannot see the client's error, only what went out on the wire. We
classify from that: the wire record a fault left (``faults.vocabulary.WireRecord``:
how the connection ended, at which phase, how many body bytes left), the
response that was sent, mitmproxy's own error for natural failures, the
protocol, and whether the connection was fresh or reused. What each client
reports for the outcome is the client profiles' business (``clients/``).
"""

from __future__ import annotations

import gzip
import re
import zlib

from faults import catalog, vocabulary
from faults.classify import h2, h3
from faults.classify.outcome import Event, Outcome


def base_facts(flow) -> dict:
    req = flow.request
    version = req.http_version
    return {
        "protocol": version,
        "reused_connection": flow.metadata.get(vocabulary.CONN_SEQ, 0) > 0,
        "method": req.method,
        "request_body": bool(req.raw_content),
        # gRPC runs over HTTP/2 only: spare HTTP/1.1 flows the header lookup
        "grpc": version == "HTTP/2.0" and req.headers.get("content-type", "").startswith("application/grpc"),
    }


def outcome_of(flow) -> Outcome:
    wire = flow.metadata.get(vocabulary.WIRE, {})
    facts = {**base_facts(flow), **{k: v for k, v in wire.items() if v is not None}}
    if wire.get("datagrams_blackholed"):
        o = Outcome(Event.QUIC_SILENCE, "client.timeout.request", "the QUIC connection went silent: every datagram "
                    "to the client dropped (quic_datagrams drop=1), so no answer reached it")
    elif wire.get("h3_frame"):
        o = h3.outcome_of(wire, facts)
    elif wire.get("h2_frame"):
        o = h2.outcome_of(wire, facts)
    elif wire.get("grpc_status") is not None:
        name = catalog.grpc_name(wire["grpc_status"])
        o = Outcome(Event.GRPC_STATUS, f"grpc.status.{name.lower()}", f"gRPC status {name} in the trailers")
    elif wire.get("early_status") and wire.get("synthetic_status"):
        # sent before the body was read: the client's abort after it is no failure
        status = wire["synthetic_status"]
        o = Outcome(Event.HTTP_RESPONSE, catalog.for_http_status(status).id,
                    f"a {status} sent before the request body was read, then a lingering close", {"status": status})
    elif wire.get("conn_end"):
        if wire.get("phase") == "mid_request":  # Go names both ends in some write errors
            facts.update(client_addr=_addr(flow.client_conn.peername), proxy_addr=_addr(flow.client_conn.sockname))
        o = connection_end(wire["conn_end"], wire.get("phase", "before_response"), facts)
    elif wire.get("h3_client_close") and not wire.get("h3_short_stream"):
        o = h3.client_close(wire["h3_client_close"])
    elif wire.get("h3_proxy_close") and not wire.get("h3_short_stream"):
        o = h3.proxy_close(wire["h3_proxy_close"])
    elif wire.get("client_gave_up") or (flow.error and (_client_went_away(flow) or wire.get("stalled"))):
        o = Outcome(Event.CLIENT_GAVE_UP, "client.timeout.request", "the client gave up while the stream was paused"
                    if wire.get("stalled") else f"the client gave up while the response was paced at "
                    f"{wire['throttled_bytes_per_s']} bytes/s" if wire.get("throttled_bytes_per_s")
                    else "the client closed the exchange before any answer")
    elif wire.get("released_at_shutdown"):
        o = Outcome(Event.PROXY_RELEASED, "network.tcp.closed", "released at proxy shutdown (FIN)")
    elif flow.error:
        o = _natural_error(flow, facts)
    elif flow.response is None:
        o = Outcome(Event.UNKNOWN, "client.generic.error", "no response and no error recorded")
    else:
        o = _response(flow, facts)
    if wire.get("collateral_of"):
        o.summary += f"; ended with its connection by the fault on flow {wire['collateral_of']}"
    for refused in ("h3_refused", "quic_refused"):
        if wire.get(refused):
            o.summary += f"; the fault was not applied: {wire[refused]}"
    o.facts = {**facts, **o.facts}
    return o


def plain_response_key(flow) -> tuple | None:
    """For the commonest flow, a key of everything ``outcome_of`` reads from it, found
    without building the outcome: no wire record, no error, no WebSocket, not gRPC, a
    final status with no content-encoding (so no body to decode). Two such flows with
    the same key have equal outcomes. None for any other flow (it takes ``outcome_of``)."""
    r = flow.response
    md = flow.metadata
    if r is None or flow.error is not None or flow.websocket is not None or md.get(vocabulary.WIRE):
        return None
    rd = r.data  # the raw fields: mitmproxy's properties decode them on every read
    status = rd.status_code
    if status < 200:
        return None
    length = ()  # every content-length value, raw: equal tuples read as equal headers
    for name, value in rd.headers.fields:  # one pass (mitmproxy's ``in`` and ``get`` each scan and lower-case)
        name = name.lower()
        if name == b"content-encoding":
            return None
        if name == b"content-length":
            length += (value,)
    req = flow.request.data
    version = req.http_version  # bytes, as sent
    if version == b"HTTP/2.0" and flow.request.headers.get("content-type", "").startswith("application/grpc"):
        return None
    # the method as sent (bytes): ``req.method`` decodes and upper-cases it; two spellings of one
    # method only split the memo
    return (version, md.get(vocabulary.CONN_SEQ, 0) > 0, req.method, bool(req.content), status,
            bool(r.stream), length, len(rd.content or b""))


def _addr(a) -> str | None:
    return f"{a[0]}:{a[1]}" if a else None


def connection_end(how: str, phase: str, facts: dict) -> Outcome:
    where = {"mid_request": "during the upload", "before_response": "before the response", "after_headers": "after the response head",
             "mid_body": "mid-body"}.get(phase, phase)
    conn = f"{'a reused' if facts.get('reused_connection') else 'a fresh'} {facts.get('protocol')} connection"
    if how == "rst":
        return Outcome(Event.TCP_RST, "network.tcp.reset_by_peer", f"TCP RST {where} on {conn}", {"phase": phase})
    entry = "network.tcp.closed" if phase == "before_response" else "http.body.truncated"
    return Outcome(Event.TCP_FIN, entry, f"FIN {where} on {conn}", {"phase": phase})


def _client_went_away(flow) -> bool:
    msg = (flow.error.msg or "").lower()
    return "client disconnected" in msg or "client" in msg and ("reset" in msg or "cancel" in msg) or (
        flow.response is None and flow.client_conn.timestamp_end is not None and "killed" not in msg
    )


_CLIENT_GOAWAY = re.compile(r"HTTP/2 connection closed: <ConnectionTerminated error_code:(\d+)")


def _natural_error(flow, facts: dict) -> Outcome:
    msg = flow.error.msg or ""
    m = _CLIENT_GOAWAY.search(msg)
    if m:  # the client itself ended the connection (its GOAWAY), e.g. after a sibling's fault it refused
        code = int(m.group(1))
        return Outcome(Event.CLIENT_GOAWAY, catalog.for_h2("goaway", code).id,
                       f"the client closed the connection itself with GOAWAY {catalog.h2_name(code)}", {"code": code})
    if "killed" in msg.lower():
        if facts["protocol"].startswith("HTTP/2"):
            return Outcome(Event.PROXY_KILLED, "http2.stream.internal_error",
                           "mitmproxy killed the flow: RST_STREAM INTERNAL_ERROR", {"code": 0x2})
        return Outcome(Event.PROXY_KILLED, "network.tcp.closed", "mitmproxy killed the flow: it closed the connection")
    if flow.response is None:
        return Outcome(Event.UPSTREAM_FAILED, "http.status.bad_gateway",
                       f"upstream failed ({msg}); mitmproxy answered 502", {"upstream_error": msg})
    return Outcome(Event.UPSTREAM_CUT, "http.body.truncated", f"upstream failed mid-response: {msg}",
                   {"upstream_error": msg})


def decode_problem(flow) -> tuple[str, str] | None:
    """(problem, detail) for a body that does not decode, None if it decodes.
    Problems: empty, short, bad_magic, corrupt (gzip); zlib_bad (deflate)."""
    r = flow.response
    if r.status_code < 200 or r.status_code in (204, 304):
        return None
    enc = [e.strip().lower() for e in r.headers.get("content-encoding", "").split(",") if e.strip()]
    data = r.raw_content or b""
    for e in reversed(enc):
        if e == "gzip":
            if len(data) < 10:
                return ("empty", "") if not data else ("short", "")
            if data[:2] != b"\x1f\x8b":
                return "bad_magic", ""
            try:
                data = gzip.decompress(data)
            except Exception as ex:  # checksum, truncation
                return "corrupt", str(ex)
        elif e == "deflate":
            if not data:
                return "short", ""
            try:
                data = zlib.decompress(data)
            except zlib.error:
                return "zlib_bad", ""
    return None


def _response(flow, facts: dict) -> Outcome:
    r = flow.response
    status = r.status_code
    if status == 101 and not flow.websocket:
        return Outcome(Event.HTTP_SWITCHING, "http.status.switching_protocols",
                       "101 Switching Protocols on a plain request", {"status": 101})
    if 100 <= status < 200 and status != 101:
        return Outcome(Event.HTTP_INFORMATIONAL, catalog.for_http_status(status).id,
                       f"a {status} as the only answer: no final status", {"status": status})
    sent, announced = facts.get("body_sent"), facts.get("body_announced")
    if announced and (sent or 0) < announced:  # a fault ended the body short (truncate/close scope=stream)
        return Outcome(Event.HTTP_SHORT_BODY, "http.body.truncated",
                       f"{sent or 0} of {announced} announced body bytes, then the end of the stream",
                       {"status": status})
    if r.stream:  # streamed through: the proxy kept no body, so it cannot judge its length or encoding
        return Outcome(Event.HTTP_RESPONSE, catalog.for_http_status(status).id, f"a complete {status} response "
                       "(streamed)", {"status": status, "body_size": 0, "streamed": True})
    problem = decode_problem(flow)
    if problem:
        return Outcome(Event.HTTP_UNDECODABLE, "http.body.decompression",
                       f"a {r.headers.get('content-encoding')} body that does not decode ({problem[0]})",
                       {"status": status, "decode_problem": problem[0], "decode_detail": problem[1]})
    length = r.headers.get("content-length", "")
    if length.isdigit() and int(length) > len(r.raw_content or b"") and flow.request.method != "HEAD":
        return Outcome(Event.HTTP_SHORT_BODY, "http.body.truncated",
                       f"{len(r.raw_content or b'')} of {length} announced body bytes", {"status": status})
    o = Outcome(Event.HTTP_RESPONSE, catalog.for_http_status(status).id, f"a complete {status} response",
                {"status": status, "body_size": len(r.raw_content or b"")})
    if facts.get("grpc"):  # the call's own status, from the trailers (or a trailers-only answer)
        seen = (r.trailers or {}).get("grpc-status") or r.headers.get("grpc-status")
        if seen and seen.isdigit():
            o.facts["grpc_status_seen"] = int(seen)
    return o
