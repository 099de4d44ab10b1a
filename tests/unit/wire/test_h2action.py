"""The HTTP/2 action (faults/wire/h2action.py): typed, kept beside the flow (a flow
with one still saves as a mitmproxy flow file) and recorded in the wire record's order."""

import io

from mitmproxy.io import FlowReader, FlowWriter
from mitmproxy.test import tflow

from faults.wire import h2action
from faults.wire.h2action import H2Action


def test_an_action_belongs_to_its_flow_and_the_flow_still_saves():
    flow, other = tflow.tflow(), tflow.tflow()
    act = h2action.set_action(flow, H2Action("rst_stream", "before_response", code=8))
    assert h2action.of(flow) is act and h2action.of(other) is None
    buf = io.BytesIO()
    FlowWriter(buf).add(flow)  # an object in flow.metadata would make this raise
    buf.seek(0)
    (back,) = FlowReader(buf).stream()
    assert back.id == flow.id and "h2_action" not in back.metadata


def test_facts_are_the_record_fields_in_the_records_order():
    goaway = H2Action("goaway", "after_headers", code=0, last_stream=3, then="drain", stream_ended=False)
    assert list(goaway.facts().items()) == [("h2_frame", "goaway"), ("code", 0), ("last_stream", 3),
                                            ("phase", "after_headers"), ("then", "drain"), ("stream_ended", False)]
    assert list(H2Action("violation", "before_response", violation="bad_hpack").facts()) == \
        ["h2_frame", "violation", "phase"]
    assert list(H2Action("rst_stream", "mid_request", code=2, after_bytes=10).facts()) == ["h2_frame", "code", "phase"]
    assert H2Action("hold", "mid_body", hold_ms=5).facts() == {}
