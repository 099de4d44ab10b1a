"""The declared vocabulary: every ``flow.metadata`` key this project writes, and
the fields of the wire record, each with what it means and which values it takes.
(What the HTTP/2, HTTP/3 and WebSocket layers must do for a flow is not metadata: ``faults.wire.actions``.)

Writers and readers import the names from here; ``Act.record`` refuses a field
that is not declared in ``WireRecord`` (a typo would otherwise be a fact that no
classifier ever reads). The HTTP/2 and HTTP/3 layers' per-flow actions use the
same names as the record they lead to.

Words that mean different things in different places, said once:
- ``status``: a report record's ``status`` is the HTTP status the client got (None when none);
  the annotation's ``status`` is what k6 saw (0 when k6 reports a transport error); ``status``
  is also the fault kind that answers with a status.
- ``record``: a report record's ``record`` field is its type (``flow``, ``tls_handshake``, ``dns``,
  ``websocket``, ``connection``: a raw TCP connection through a Toxiproxy proxy, ``faults.report.records.connection_record``);
  ``Act.record(...)`` writes the wire record.
- ``tls``: the fault kind (``faults/kinds/tls.py``), the addon that applies it
  (``faults/addons/tls.py``), the bytes it writes (``faults/wire/tls.py``) and its classifier
  (``faults/classify/tls.py``).
- ``seed``: a plan file's top-level ``seed`` seeds its rules; the ``fault_seed`` option seeds the
  rules of the ``faults`` option; the pytest plugin's ``--fault-seed`` sets ``fault_seed``; with
  workers each rule's RNG is seeded from the seed, the worker id and the rule (``faults.worker``).
- ``worker``: a report record's ``worker`` and ``flow.metadata["fault_worker"]`` are the ``fault_worker``
  option of the process that served the flow (``""`` / absent for a lone proxy).
- ``scope``: a fault key (``scope=stream|connection``: what a cut ends); ``gates`` is the rule key
  that says where ``first``/``every``/``probability`` count (``worker`` or ``global``).
"""

from __future__ import annotations

from typing import Literal, TypedDict

# -- flow.metadata keys ------------------------------------------------------------
FAULT = "fault"  # the rule that selected this flow: {"rule": label, "spec": canonical text, "kind": kind}
WIRE = "fault_wire"  # the wire record (WireRecord): what the fault put on the wire
CONN_SEQ = "conn_seq"  # 0 for the first request on its client connection, 1 for the next, ...
TLS_STATE = "tls_fault"  # a request on a TLS-faulted connection: {"host", "tls_version", "alpn"}
HEADER_ERROR = "fault_header_error"  # an x-fault header that did not parse (the request got a 400)
FAILED = "fault_failed"  # repr() of an exception a fault kind raised (logged; the flow went on)
CONTROL = "fault_control"  # True on the control endpoint's own requests (never classified)
DISCARD_BODY = "fault_discard_body"  # True: answered at its head; the HTTP layer drops its body unread (faults.wire.h2layer)
# Not metadata: an attribute of the ``http.Request`` (set before any flow exists): in reverse mode
# without keep_host_header, the Host / :authority the client sent, before mitmproxy rewrote it.
CLIENT_HOST_ATTR = "fault_client_host"
WORKER = "fault_worker"  # str: the worker that served this flow (faults proxy --workers N); absent on a lone proxy
DNS_STATE = "dns_fault"  # on a DNS flow: what faults.addons.dns decided and sent (name, lookup, rule, fault, ...)
# Written by the classifier (faults.addons.annotate), read by the status line, mitmweb and tests:
K6_CODE = "k6_error_code"  # int: what k6 reports for this flow (0: no error)
K6_ERROR = "k6_error"  # str: k6's error text ("" when none)
K6 = "k6"  # the k6 profile's report (ClientReport.as_dict())
OUTCOME = "outcome"  # the client-neutral outcome (Outcome.as_dict())
CLIENTS = "clients"  # {client name: its report} for every profile that speaks this protocol
ANNOTATION = "annotation"  # the error object (seed 003's shape) of what k6 reports

Phase = Literal["before_request_forwarded", "mid_request", "before_response", "after_headers", "mid_body",
                "after_response", "refused", "websocket"]


class WireRecord(TypedDict, total=False):
    """``flow.metadata[WIRE]``: facts only, written through ``Act.record`` (or,
    for streams a fault did not select, by the HTTP/2 layer)."""

    # where in the exchange the fault acted
    phase: Phase
    # connection ends (reset, close, truncate, HTTP/2 fallback)
    conn_end: Literal["rst", "fin"]  # how the client connection ended: TCP RST or FIN
    conn_end_ok: bool  # False when the connection was already gone
    body_sent: int | None  # response body bytes the client got before the end
    body_announced: int  # Content-Length we announced (truncate, empty-body cuts)
    # holding (hang, delay, status 1xx on HTTP/2)
    held_ms: int  # how long the exchange was held
    hold_end: Literal["elapsed", "client_gone", "stopping"]
    client_gave_up: bool  # the client closed or reset first
    released_at_shutdown: bool  # the proxy stopped while the flow was held or open
    delay_ms: float  # delay: the pause applied
    throttled_bytes_per_s: int | None  # throttle: the pace of the response
    throttled_request_bytes_per_s: int | None  # throttle direction=request: the pace we read the upload at
    request_body_received: int  # mid_request cuts: request body bytes read before the end
    request_body_announced: int | None  # the request's Content-Length (None: chunked / HTTP/2 without one)
    # answers made by the proxy
    synthetic_status: int  # status: the status we answered with
    early_status: bool  # status when=early: sent before the request body was read (False: TLS, sent after)
    informational_held: int  # status 1xx on HTTP/2: held instead of sent (h2 cannot send a lone 1xx)
    body_encoding: str  # bad_gzip: what we claimed the body was
    # HTTP/2 frames (same names as faults.wire.actions.H2Action)
    h2_frame: Literal["rst_stream", "goaway", "violation"]
    code: int  # the HTTP/2 error code sent (RST_STREAM, GOAWAY)
    code_name: str  # its RFC 9113 name, or Go's "unknown error code 0x.."
    stream_id: int | None  # this flow's stream
    last_stream: int  # GOAWAY's last_stream_id
    then: Literal["close", "drain"]  # after a GOAWAY
    stream_ended: bool  # the GOAWAY ended this stream (no response for it)
    goaway_refused: bool  # a stream above a draining GOAWAY's last_stream_id: never answered
    violation: str  # h2_violation: which protocol rule was broken
    fallback: Literal["tcp_reset"]  # an HTTP/2 fault on a flow that is not HTTP/2
    # HTTP/3 (faults.wire.h3layer; same names as faults.wire.actions.H3Action)
    h3_frame: Literal["reset_stream", "goaway", "connection_close"]  # with code, code_name, stream_id, phase
    goaway_id: int  # HTTP/3 GOAWAY: the first client stream id not processed
    quic_error_space: Literal["transport", "application"]  # CONNECTION_CLOSE 0x1c (QUIC) or 0x1d (HTTP/3)
    stop_sending: bool  # RESET_STREAM came with STOP_SENDING (the request was still arriving)
    instead_of: Literal["rst", "fin"]  # reset/close on HTTP/3: the CONNECTION_CLOSE that stands in for it
    h3_short_stream: bool  # truncate/close on HTTP/3: the stream ended (FIN) short of its Content-Length
    h3_refused: str  # the selected fault has no HTTP/3 meaning: not applied, and why
    h3_client_close: dict  # the HTTP/3 client closed the connection itself ({by, code, frame_type, reason}) before this stream ended
    h3_proxy_close: dict  # the proxy's own stack (not a fault) closed the QUIC connection ({by, code, frame_type, reason}) before this stream ended
    quic_refused: str  # quic_close on a flow that is not HTTP/3: not applied, and why
    datagrams_dropped: dict  # quic_datagrams: {"to_client": n, "to_server": n} dropped so far on the connection
    datagrams_passed: dict  # quic_datagrams: {"to_client": n, "to_server": n} let through so far
    datagrams_blackholed: bool  # quic_datagrams drop=1 towards the client: no answer can reach it
    # a flow that ended with its connection because another flow's fault ended it
    collateral_of: str  # the flow id whose fault ended the connection
    ended_seq: int  # when this flow's own fault ended its stream or connection (ordered against connection ends)
    client_reset_seq: int  # when the client reset this HTTP/2 stream itself (ordered against connection ends)
    cut_held: list[str]  # this flow's fault ended the connection while these flows were held on it, uncancelled
    # gRPC
    grpc_status: int  # the status sent in the trailers
    grpc_status_name: str
    grpc_message: str
    after_messages: int  # messages let through before the status
    messages_sent: int  # how many there were
    # WebSocket sessions (ws_* kinds; conn_end with phase "websocket" for ws_drop)
    ws_fault: Literal["close", "drop", "stall", "delay", "corrupt"]  # what the fault did to the session
    ws_close_code: int  # ws_close: the code in the close frame we sent the client
    ws_close_reason: str
    ws_corrupt: Literal["bad_opcode", "masked", "invalid_utf8"]  # ws_corrupt: the frame we sent
    ws_passed: int  # counted messages relayed before the fault acted
    ws_direction: Literal["server", "client", "any"]  # which messages the fault counts and acts on
    ws_dropped: int  # ws_stall: messages not relayed
    # streamed bodies (SSE and any streamed response)
    events_sent: int  # text/event-stream: whole events the client got before the fault
    after_events: int  # the fault acted after this many events
    stalled: bool  # stall: the stream was paused (a flow that errors meanwhile: the client gave up)
    # max_active (faults.gates): when this flow held its rule's slot, in seconds after t0 on the
    # records' ``t`` axis (``clock.now()``: monotonic); written only for flows a max_active rule faulted
    max_active_taken_t: float  # it took the slot (the rule applied to it)
    max_active_released_t: float  # it gave the slot back (its fault was over); absent while held


WIRE_FIELDS = frozenset(WireRecord.__annotations__)

