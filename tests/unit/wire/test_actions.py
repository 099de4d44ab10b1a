"""The layers' actions (faults/wire/actions.py): typed, kept beside the flow (a flow
with one still saves as a mitmproxy flow file); an HTTP/2 or HTTP/3 one is recorded
in the wire record's order."""

import io

from mitmproxy.io import FlowReader, FlowWriter
from mitmproxy.test import tflow

from faults import vocabulary
from faults.wire import actions
from faults.wire.actions import H2Action, H3Action, WsAction


def test_an_action_belongs_to_its_flow_and_the_flow_still_saves():
    flow, other = tflow.tflow(), tflow.tflow()
    act = actions.H2.set(flow, H2Action("rst_stream", "before_response", code=8))
    ws = actions.WS.set(flow, WsAction("close", code=4000))
    h3 = actions.H3.set(flow, H3Action("reset_stream", "before_response", code=0x10C))
    assert actions.H2.of(flow) is act and actions.H2.of(other) is None and actions.WS.of(flow) is ws
    assert actions.H3.of(flow) is h3 and actions.H3.of(other) is None
    buf = io.BytesIO()
    FlowWriter(buf).add(flow)  # an object in flow.metadata would make this raise
    buf.seek(0)
    (back,) = FlowReader(buf).stream()
    assert back.id == flow.id and not {"h2_action", "h3_action", "ws_action"} & set(back.metadata)


def test_no_action_is_declared_as_flow_metadata():
    """The actions are typed objects beside the flow, not metadata dicts (issue 22)."""
    assert not [k for k in dir(vocabulary) if k.endswith("_ACTION")]
    assert not {"H2Action", "H3Action", "WsAction"} & set(dir(vocabulary))


def test_facts_are_the_record_fields_in_the_records_order():
    goaway = H2Action("goaway", "after_headers", code=0, last_stream=3, then="drain", stream_ended=False)
    assert list(goaway.facts().items()) == [("h2_frame", "goaway"), ("code", 0), ("last_stream", 3),
                                            ("phase", "after_headers"), ("then", "drain"), ("stream_ended", False)]
    assert list(H2Action("violation", "before_response", violation="bad_hpack").facts()) == \
        ["h2_frame", "violation", "phase"]
    assert list(H2Action("rst_stream", "mid_request", code=2, after_bytes=10).facts()) == ["h2_frame", "code", "phase"]
    assert H2Action("hold", "mid_body", hold_ms=5).facts() == {}


def test_h3_facts_are_the_record_fields_in_the_records_order():
    reset = H3Action("reset_stream", "mid_request", code=0x10C, stop_sending=True)
    assert list(reset.facts().items()) == [("h3_frame", "reset_stream"), ("code", 0x10C), ("stop_sending", True),
                                           ("phase", "mid_request")]
    goaway = H3Action("goaway", "after_headers", code=0x100, goaway_id=8, then="drain", stream_ended=False)
    assert list(goaway.facts()) == ["h3_frame", "code", "goaway_id", "phase", "then", "stream_ended"]
    close = H3Action("connection_close", "before_response", code=0xA, quic_error_space="transport", reason="r")
    assert close.facts() == {"h3_frame": "connection_close", "code": 0xA, "quic_error_space": "transport",
                             "phase": "before_response"}
    assert close.transport and not H3Action("connection_close", "before_response", code=0x102).transport
    assert H3Action("pace", rate=1000).facts() == {} == H3Action("hold", "mid_body", hold_ms=5).facts()
    assert set(reset.facts()) | set(goaway.facts()) | set(close.facts()) <= vocabulary.WIRE_FIELDS
