"""The client matrix: for every fault of the docs' fault tables, per protocol, what each
client profile reports, computed from the profiles themselves (never copied).

Each row pairs a fault spec with the outcome the proxy records for it, as seen in
``tests/e2e/test_client_matrix.py`` (which also checks that every row's prediction
equals what the real client did). ``faults.tools.matrix`` renders the
matrices of docs/clients.md; ``produced_by`` answers ``faults explain ECONNRESET``.
"""

from __future__ import annotations

from functools import cache

from faults.classify.clients import H3_PROFILES, PROFILES, report_all
from faults.classify.outcome import ClientReport, Event, Outcome

H1, H2 = "HTTP/1.1", "HTTP/2.0"


def _http(proto: str) -> list[tuple[str, str, dict]]:
    """(spec, event, facts) of the faults both HTTP versions share."""
    rows = [
        ("status code=503", Event.HTTP_RESPONSE, {"status": 503}),
        ("status code=404", Event.HTTP_RESPONSE, {"status": 404}),
        ("status code=200", Event.HTTP_RESPONSE, {"status": 200}),
        # HTTP/2: mitmproxy cannot send a lone 1xx, the proxy holds the exchange instead
        ("status code=103", Event.HTTP_INFORMATIONAL if proto == H1 else Event.CLIENT_GAVE_UP, {"status": 103}),
        ("delay ms=150", Event.HTTP_RESPONSE, {"status": 200}),
        ("hang", Event.CLIENT_GAVE_UP, {}),
        ("hang ms=300", Event.TCP_FIN, {"phase": "before_response"}),
    ]
    for phase in ("before_response", "after_headers", "mid_body"):
        sent = {"body_sent": 15000} if phase == "mid_body" else {}
        rows.append((f"reset when={phase}", Event.TCP_RST, {"phase": phase, **sent}))
    for phase in ("before_response", "after_headers", "mid_body"):
        sent = {"body_sent": 15000} if phase == "mid_body" else {}
        rows.append((f"close when={phase}", Event.TCP_FIN, {"phase": phase, **sent}))
    rows += [
        ("truncate", Event.TCP_FIN, {"phase": "mid_body", "body_sent": 15000, "body_announced": 30000}),
        ("bad_gzip", Event.HTTP_UNDECODABLE, {"status": 200, "decode_problem": "bad_magic"}),
        ("throttle bytes_per_s=200000", Event.HTTP_RESPONSE, {"status": 200}),
    ]
    return rows


def _h2_frames() -> list[tuple[str, str, dict]]:
    s = {"stream_id": 1}
    return [
        ("rst_stream code=INTERNAL_ERROR when=after_headers", Event.H2_RST_STREAM,
         {**s, "code": 2, "phase": "after_headers"}),
        ("rst_stream code=CANCEL when=mid_body", Event.H2_RST_STREAM, {**s, "code": 8, "phase": "mid_body"}),
        ("rst_stream code=INTERNAL_ERROR when=before_response", Event.H2_RST_STREAM,
         {**s, "code": 2, "phase": "before_response"}),
        ("rst_stream code=REFUSED_STREAM when=before_response", Event.H2_RST_STREAM,
         {**s, "code": 7, "phase": "before_response"}),
        ("goaway code=INTERNAL_ERROR last_stream=this when=before_response then=close", Event.H2_GOAWAY,
         {**s, "code": 2, "last_stream": 1, "phase": "before_response", "then": "close"}),
        ("goaway code=NO_ERROR last_stream=this when=after_headers then=drain", Event.H2_GOAWAY,
         {**s, "code": 0, "last_stream": 1, "phase": "after_headers", "then": "drain"}),
        ("goaway code=NO_ERROR last_stream=below when=before_response", Event.H2_GOAWAY,
         {**s, "code": 0, "last_stream": 0, "phase": "before_response", "then": "close"}),
        ("goaway code=NO_ERROR last_stream=this when=after_response then=drain", Event.H2_GOAWAY,
         {**s, "code": 0, "last_stream": 1, "phase": "after_response", "then": "drain"}),
        ("h2_violation kind=data_on_idle_stream", Event.H2_VIOLATION,
         {**s, "violation": "data_on_idle_stream", "code": 1}),
        ("h2_violation kind=bad_hpack", Event.H2_VIOLATION, {**s, "violation": "bad_hpack", "code": 9}),
        ("h2_violation kind=oversized_frame", Event.H2_VIOLATION, {**s, "violation": "oversized_frame", "code": 6}),
        ("h2_violation kind=window_overflow", Event.H2_VIOLATION, {**s, "violation": "window_overflow", "code": 3}),
    ]


def _tls() -> list[tuple[str, str, dict]]:
    rows = [(f"tls cert={c}", Event.TLS_BAD_CERT, {"cert": c}) for c in
            ("untrusted", "self_signed", "incomplete_chain", "wrong_host", "expired", "not_yet_valid", "sha1",
             "weak_key")]
    return rows + [
        ("tls handshake=alert alert=handshake_failure", Event.TLS_ALERT, {"alert": 40}),
        ("tls handshake=plaintext", Event.TLS_PLAINTEXT, {}),
        ("tls handshake=reset", Event.TLS_RST, {}),
        ("tls handshake=close", Event.TLS_FIN, {}),
        ("tls handshake=stall", Event.TLS_STALL, {}),
        ("tls client_cert=require", Event.TLS_ALERT, {"alert": 116, "encrypted": True}),  # TLS 1.3
        ("tls alpn=http1_only", Event.HTTP_RESPONSE, {"status": 200}),
        ("tls max_version=1.2", Event.HTTP_RESPONSE, {"status": 200}),
    ]


def _h3() -> list[tuple[str, str, dict]]:
    """HTTP/3 (docs/http3.md): the rows measured with curl, aioquic and Chromium over QUIC."""
    s = {"stream_id": 4}

    def frame(event, **facts):
        space = facts.pop("space", "application")
        code = facts["code"]
        return {**s, **facts, "h3_error": {"name": "", "value": code, "space": space}}

    rst = lambda code, phase, **kw: (Event.H3_RESET_STREAM, frame(Event.H3_RESET_STREAM, code=code, phase=phase, **kw))  # noqa: E731
    close = lambda code, **kw: (Event.H3_CONNECTION_CLOSE, frame(Event.H3_CONNECTION_CLOSE, code=code, **kw))  # noqa: E731
    rows = [
        ("status code=503", Event.HTTP_RESPONSE, {"status": 503}),
        ("delay ms=150", Event.HTTP_RESPONSE, {"status": 200}),
        ("hang", Event.CLIENT_GAVE_UP, {}),
        ("truncate", Event.HTTP_SHORT_BODY, {"status": 200}),
        ("bad_gzip", Event.HTTP_UNDECODABLE, {"status": 200, "decode_problem": "bad_magic"}),
        ("throttle bytes_per_s=200000", Event.HTTP_RESPONSE, {"status": 200}),
        ("reset", *close(0x102, instead_of="rst")),
        ("close", *close(0x100, instead_of="fin")),
        ("reset scope=stream", *rst(0x102, "before_response")),
        ("rst_stream code=H3_REQUEST_CANCELLED", *rst(0x10C, "before_response")),
        ("rst_stream code=H3_REQUEST_REJECTED", *rst(0x10B, "before_response")),
        ("rst_stream code=H3_INTERNAL_ERROR when=after_headers", *rst(0x102, "after_headers")),
        ("rst_stream code=H3_NO_ERROR when=mid_body", *rst(0x100, "mid_body")),
        ("rst_stream code=CANCEL when=mid_request", *rst(0x10C, "mid_request", stop_sending=True)),
        ("goaway", Event.H3_GOAWAY, {**frame(Event.H3_GOAWAY, code=0x100), "then": "close", "covered": True}),
        ("goaway then=drain", Event.H3_GOAWAY, {**frame(Event.H3_GOAWAY, code=0x100), "then": "drain", "covered": True}),
        ("goaway last_stream=below then=drain", Event.H3_GOAWAY,
         {**frame(Event.H3_GOAWAY, code=0x100), "then": "drain", "covered": False}),
        ("quic_close code=H3_EXCESSIVE_LOAD", *close(0x107)),
        ("quic_close code=PROTOCOL_VIOLATION space=transport", *close(0xA, space="transport")),
    ]
    return rows


# HTTP/3 is rendered in docs/http3.md (python -m faults.tools.matrix --http3), not in the README's matrix
H3_TABLE = {"HTTP/3": ("HTTP/3", _h3())}


# a failed handshake has no HTTP version yet; a TLS fault the client accepts is an HTTP/1.1 answer
# for the clients that offer only http/1.1 and an HTTP/2 one for the others: both "ok 200"
PROTOCOLS = {"HTTP/1.1": (H1, _http(H1)), "HTTP/2": (H2, _http(H2) + _h2_frames()), "TLS": ("", _tls())}


def outcome(protocol: str, event: str, facts: dict) -> Outcome:
    base = {"protocol": protocol, "method": "GET", "reused_connection": False, "request_body": False, "grpc": False}
    return Outcome(event, "", facts={**base, **facts})


@cache
def rows(table: str) -> tuple[tuple[str, dict[str, ClientReport]], ...]:
    """((spec, {client: report}), ...): every profile that says something for the row."""
    proto, specs = {**PROTOCOLS, **H3_TABLE}[table]
    out = []
    for spec, event, facts in specs:
        o = outcome(proto, event, facts)
        if table in H3_TABLE:  # k6 and the TCP-only clients say nothing for HTTP/3 (they stay on TCP)
            reports = {n: r for n, r in report_all(o).items() if r.error is not None}
        else:
            reports = {p.NAME: r for p in PROFILES if (r := p.report(o)) is not None}
        out.append((spec, reports))
    return tuple(out)


def columns(table: str) -> list[str]:
    """The clients that speak this protocol: a report on at least one row (grpcio: gRPC calls only)."""
    seen = {name for _, reports in rows(table) for name in reports}
    return [p.NAME for p in (H3_PROFILES if table in H3_TABLE else PROFILES) if p.NAME in seen]


def cell(r: ClientReport | None) -> str:
    if r is None:
        return "-"
    text = str(r.error) if r.error is not None else "ok"
    if text == "ok" and "status" in r.extra:
        text = f"ok {r.extra['status']}"
    others = list(dict.fromkeys(str(a["error"]) for a in r.alt if a["error"] != r.error))  # racing readings
    if others:
        text += " / " + " / ".join(others)
    if r.retried is True:
        text += " (retried)"
    elif r.retried:
        text += f" (+{r.retried} re-send)"
    return text


def hidden(table: str) -> dict[str, list[str]]:
    """Per client, the faults it hides from its user: it re-sends silently, returns
    success where k6 reports an error (a short or raw body, a refused certificate
    accepted), or never settles."""
    out: dict[str, list[str]] = {}
    for spec, reports in rows(table):
        k6 = reports.get("k6")
        # an HTTP error status is no hidden failure: every client hands it over (k6: 1000 + status)
        failing = k6 is not None and k6.error != 0 and not 1400 <= k6.error < 1600
        for name, r in reports.items():
            if name == "k6":
                continue
            why = None
            if r.retried:
                why = f"re-sent {int(r.retried)}x"
            elif failing and (r.error in ("ok", 0, None)) and name != "grpcio":
                why = f"{cell(r)}, no error"
            elif r.error == "never_settles":
                why = "never settles"
            if why:
                out.setdefault(name, []).append(f"`{spec}` ({why})")
    return out


def produced_by(identifier: str) -> list[tuple[str, str, str, ClientReport]]:
    """(client, table, spec, report) for every matrix row where a client reports
    ``identifier`` (``ECONNRESET``, ``net::ERR_CONNECTION_RESET``, ``ChunkedEncodingError``;
    ``CLIENT ERROR`` such as ``node ECONNRESET`` or ``curl 56`` narrows to that client).
    Bare numbers are k6 codes or statuses: the catalog's business."""
    text = identifier.strip()
    client = None
    if " " in text and text.split(None, 1)[0].lower() in {p.NAME for p in PROFILES}:
        client, text = text.split(None, 1)
        client = client.lower()
    elif text.isdigit():
        return []
    want = text.lower()
    out = []
    for table in (*PROTOCOLS, *H3_TABLE):
        for spec, reports in rows(table):
            for name, r in reports.items():
                errors = [r.error] + [a["error"] for a in r.alt]
                if (client is None or name == client) and any(str(e).lower() == want for e in errors):
                    if str(r.error) != "ok" or client is not None:
                        out.append((name, table, spec, r))
    return out
