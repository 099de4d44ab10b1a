"""faults/classify/h3.py: who closed the QUIC connection, in the outcome and each HTTP/3
client's report (a close of the proxy's own stack reads, to the client, as the server's
CONNECTION_CLOSE of a ``quic_close`` fault)."""

from mitmproxy.test import tflow

from faults import vocabulary
from faults.catalog.tables import close_code_name
from faults.classify import h3, http
from faults.classify.clients import report_all

STREAM_ENDED = {"by": "proxy", "code": 0xA, "frame_type": None, "reason": "stream already ended"}


def _reports(o):
    o.facts["protocol"] = "HTTP/3"
    return report_all(o)


def test_a_proxy_side_close_names_the_proxy_its_code_and_reason():
    o = h3.proxy_close(STREAM_ENDED)
    assert o.event == "h3.proxy_close" and o.entry == "http3.connection.closed"
    assert "proxy's own" in o.summary and "stream already ended" in o.summary and "client" not in o.summary
    assert o.facts["h3_error"] == {"name": close_code_name(0xA, "application"), "value": 0xA, "space": "application"}
    transport = h3.proxy_close({"by": "proxy", "code": 0xA, "frame_type": 0x0, "reason": ""})
    assert transport.entry == "http3.connection.transport_error" and "PROTOCOL_VIOLATION" in transport.summary


def test_a_proxy_side_close_reads_to_each_client_as_a_quic_close_fault_does():
    fault = h3.outcome_of({"h3_frame": "connection_close", "code": 0xA, "quic_error_space": "application",
                           "phase": "before_response"}, {})
    fault.facts["collateral_of"] = "f0"  # a sibling of the stream the fault chose: no stream chose a proxy's close
    proxy = h3.proxy_close(STREAM_ENDED)
    proxy.facts["h3_proxy_close"] = STREAM_ENDED
    ours, theirs = _reports(fault), _reports(proxy)
    for name in ("curl", "aioquic", "chromium"):
        assert (theirs[name].error, theirs[name].message) == (ours[name].error, ours[name].message), name
    assert [a["error"] for a in theirs["curl"].alt] == [a["error"] for a in ours["curl"].alt] == [55, 0]
    assert theirs["aioquic"].extra == {"error_code": 0xA, "frame_type": None}


def test_the_wire_record_says_who_closed():
    flow = tflow.tflow(resp=False)
    flow.request.http_version = "HTTP/3"
    flow.metadata[vocabulary.WIRE] = {"h3_proxy_close": STREAM_ENDED}
    assert http.outcome_of(flow).event == "h3.proxy_close"
    flow.metadata[vocabulary.WIRE] = {"h3_client_close": {**STREAM_ENDED, "by": "client"}}
    assert http.outcome_of(flow).event == "h3.client_close"
