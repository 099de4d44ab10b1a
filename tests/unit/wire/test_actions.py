"""The layers' actions (faults/wire/actions.py): typed, kept beside the flow (a flow
with one still saves as a mitmproxy flow file); an HTTP/2 one is recorded in the
wire record's order."""

import io

from mitmproxy.io import FlowReader, FlowWriter
from mitmproxy.test import tflow

from faults.wire import actions
from faults.wire.actions import H2Action, WsAction


def test_an_action_belongs_to_its_flow_and_the_flow_still_saves():
    flow, other = tflow.tflow(), tflow.tflow()
    act = actions.H2.set(flow, H2Action("rst_stream", "before_response", code=8))
    ws = actions.WS.set(flow, WsAction("close", code=4000))
    assert actions.H2.of(flow) is act and actions.H2.of(other) is None and actions.WS.of(flow) is ws
    buf = io.BytesIO()
    FlowWriter(buf).add(flow)  # an object in flow.metadata would make this raise
    buf.seek(0)
    (back,) = FlowReader(buf).stream()
    assert back.id == flow.id and not {"h2_action", "ws_action"} & set(back.metadata)


def test_facts_are_the_record_fields_in_the_records_order():
    goaway = H2Action("goaway", "after_headers", code=0, last_stream=3, then="drain", stream_ended=False)
    assert list(goaway.facts().items()) == [("h2_frame", "goaway"), ("code", 0), ("last_stream", 3),
                                            ("phase", "after_headers"), ("then", "drain"), ("stream_ended", False)]
    assert list(H2Action("violation", "before_response", violation="bad_hpack").facts()) == \
        ["h2_frame", "violation", "phase"]
    assert list(H2Action("rst_stream", "mid_request", code=2, after_bytes=10).facts()) == ["h2_frame", "code", "phase"]
    assert H2Action("hold", "mid_body", hold_ms=5).facts() == {}
