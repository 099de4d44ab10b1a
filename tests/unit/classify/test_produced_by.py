"""Every catalog entry's ``produced_by`` spec, run through its kind on a test
flow (the exchange simulated, the wire faked), classifies to that entry: the
catalog's claims and the classifier cannot drift apart."""

import asyncio
import random
import re
import time

import pytest
from mitmproxy.test import tflow, tutils

from faults import catalog, kinds, spec as specmod
from faults.classify import classify, classify_handshake
from faults.wire import h2layer
from faults.wire.act import Act

# placeholders in produced_by texts -> a concrete value; specs whose outcome depends on
# the client's own timeout (delay, throttle) are measured in e2e only
CONCRETE = {"hang ms=<N>": "hang ms=1", "tls handshake=alert alert=<NAME>": "tls handshake=alert alert=unknown_ca"}
BODY = b"x" * 30000

CASES = sorted({(e.id, CONCRETE.get(p, p)) for e in catalog.entries() for p in e.produced_by
                if "<" not in CONCRETE.get(p, p)})


def _flow(h2: bool):
    f = tflow.tflow()
    f.request.http_version = "HTTP/2.0" if h2 else "HTTP/1.1"
    f.request.raw_content = b""
    f.client_conn.timestamp_end = None
    f.live = True
    return f


async def _exchange(fault, flow, client_gives_up: bool):
    act = Act(flow, asyncio.Event(), random.Random(1))
    if client_gives_up:
        flow.client_conn.timestamp_end = time.time()
    if fault.level == "request_head":  # an upload: the head, then the body through the request stream
        flow.request.headers["content-length"] = str(len(BODY))
        fault.requestheaders(flow, act)
        if callable(flow.request.stream):
            flow.request.stream(BODY)
    if hasattr(fault, "request"):
        await fault.request(flow, act)
    if flow.response is None and flow.error is None and not flow.metadata.get("fault_wire", {}).get("conn_end"):
        flow.response = tutils.tresp(content=BODY, http_version=flow.request.http_version.encode())
        flow.response.headers["content-length"] = str(len(BODY))
        if hasattr(fault, "responseheaders"):
            fault.responseheaders(flow, act)
        stream = flow.response.stream
        if callable(stream):
            flow.response.raw_content = stream(BODY)
        if hasattr(fault, "response"):
            await fault.response(flow, act)


def _tls(spec):
    p = spec.params
    if p.get("handshake"):
        alert = catalog.tables.TLS_ALERTS[p.get("alert", "handshake_failure")] if p["handshake"] == "alert" else None
        return classify_handshake(p, raw_action=p["handshake"], error="", host="h", flushed_alert=alert)
    if p.get("client_cert"):
        return classify_handshake(p, raw_action=None, host="h", flushed_alert=-1,
                                  error="peer did not return a certificate")
    return classify_handshake(p, raw_action=None, host="h", error="tlsv1 alert unknown ca")


class Classifier:  # stands in for the classifier addon: collects connection records
    def __init__(self):
        self.records = []

    def connection_record(self, rec):
        self.records.append(rec)


def _dns(spec, monkeypatch):
    """The DNS addon answers one A query for a name its one rule selects."""
    from mitmproxy.test import taddons

    from faults.addons import dns as dnsaddon
    from faults.plan import Rule
    from faults.wire import sockets

    sink = Classifier()
    addon = dnsaddon.DnsFaults(classifier=sink)
    rule = Rule(spec=spec)
    monkeypatch.setattr(addon, "_rules", lambda: [rule])
    monkeypatch.setattr(sockets, "http_listen_address", lambda: ("127.0.0.1", 1))
    monkeypatch.setattr(dnsaddon, "DROP_HOLD_S", 0)
    with taddons.context(addon, sink):
        flow = tflow.tdnsflow()
        asyncio.run(addon.dns_request(flow))
        addon.dns_response(flow)
    sockets.close_blackholes()
    (rec,) = sink.records
    return rec


@pytest.mark.parametrize("case", CASES, ids=[f"{i}:{p}" for i, p in CASES])
def test_produced_by_classifies_to_its_entry(case, monkeypatch):
    entry, text = case
    spec = specmod.parse(text)[0]
    if kinds.get(spec.kind).level == "dns":
        rec = _dns(spec, monkeypatch)
        named = {rec["outcome"]["entry"], catalog.for_k6(rec["k6_error_code"]).id}
        assert entry in named, (text, rec)
        return
    if spec.kind == "tls":
        c = _tls(spec)
    else:
        h2 = spec.kind in ("goaway", "rst_stream", "h2_violation")
        monkeypatch.setattr(h2layer, "active", lambda flow: flow.request.http_version == "HTTP/2.0")
        monkeypatch.setattr(h2layer, "stream_id", lambda flow: 1)
        flow = _flow(h2)
        asyncio.run(_exchange(kinds.instantiate(spec), flow, client_gives_up=text == "hang"))
        c = classify(flow)
    named = {c.outcome.entry, c.entry, catalog.for_k6(c.k6.error).id} | {r.entry for r in c.clients.values()}
    assert entry in named, (text, c.outcome, c.k6)


def test_every_kind_appears():
    used = {specmod.parse(t)[0].kind for _, t in CASES}
    # ws_* kinds end WebSocket sessions, which have no k6 error_code and so no catalog entry:
    # tests/e2e/test_websocket.py checks them against the real clients instead
    ws = {k for k in kinds.all_kinds() if k.startswith("ws_")}
    # stall, like delay and throttle, depends on the client's own timeout: tests/e2e/test_sse.py
    # quic_close and quic_datagrams act on HTTP/3 only: tests/e2e/test_http3.py checks them with curl and aioquic
    assert used >= set(kinds.all_kinds()) - {"delay", "throttle", "grpc_status", "stall", "quic_close", "quic_datagrams"} - ws, used
