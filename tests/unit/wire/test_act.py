"""``Act`` on an HTTP/3 flow (faults/wire/act.py): each verb asks the HTTP/3 layer for a
typed ``H3Action`` (the HTTP/2 verbs for their HTTP/3 counterpart, the code mapped)
and records it under the wire record's names; nothing goes into ``flow.metadata`` but
the record."""

import asyncio
import random

import pytest
from mitmproxy.test import tflow

from faults import vocabulary
from faults.wire import act as act_mod
from faults.wire import actions
from faults.wire.act import Act
from faults.wire.actions import H3Action


@pytest.fixture
def h3(monkeypatch):
    """An Act on a flow taken for HTTP/3 through our layer, on stream 4."""
    monkeypatch.setattr(act_mod.h3layer, "active", lambda flow: True)
    monkeypatch.setattr(act_mod.h2layer, "stream_id", lambda flow: 4)
    flow = tflow.tflow()
    flow.request.http_version = "HTTP/3"
    return Act(flow, asyncio.Event(), random.Random(0))


def _wire(act) -> dict:
    return act.flow.metadata[vocabulary.WIRE]


def test_rst_stream_asks_for_reset_stream_with_the_mapped_code(h3):
    h3.flow.request.timestamp_end = None  # the upload is still arriving: STOP_SENDING too
    h3.h2_rst_stream(0x8, "mid_request", after_bytes=10)  # CANCEL
    assert actions.H3.of(h3.flow) == H3Action("reset_stream", "mid_request", code=0x10C, stop_sending=True)
    assert _wire(h3) == {"stream_id": 4, "h3_frame": "reset_stream", "code": 0x10C, "stop_sending": True,
                         "phase": "mid_request", "code_name": "H3_REQUEST_CANCELLED"}
    assert set(h3.flow.metadata) == {vocabulary.WIRE} and h3.h2_action() is None


def test_a_chosen_h3_code_wins_over_the_mapping(h3):
    h3.h2_rst_stream(0x8, "before_response", code_h3=0x10B)
    a = h3.h3_action()
    assert (a.code, a.stop_sending, _wire(h3)["code_name"]) == (0x10B, False, "H3_REQUEST_REJECTED")


def test_goaway_verbs(h3):
    h3.h3_goaway(0x100, 8, "after_headers", "drain", stream_ended=True)
    assert h3.h3_action() == H3Action("goaway", "after_headers", code=0x100, goaway_id=8, then="drain",
                                      stream_ended=True)
    assert h3.ends_after_headers()
    assert list(_wire(h3)) == ["stream_id", "h3_frame", "code", "goaway_id", "phase", "then", "stream_ended",
                               "code_name"]
    h3.h2_goaway(0x0, 4, "before_response", "close", stream_ended=True)  # HTTP/2's: the first id not processed
    a = h3.h3_action()
    assert (a.code, a.goaway_id, a.then, _wire(h3)["last_stream"]) == (0x100, 8, "close", 4)
    assert not h3.ends_after_headers()


def test_close_names_a_transport_or_an_application_code(h3):
    h3.h3_close(0xA, "transport", "before_response", reason="bye")
    a = h3.h3_action()
    assert (a.h3_frame, a.transport, a.reason) == ("connection_close", True, "bye")
    assert _wire(h3)["code_name"] == "PROTOCOL_VIOLATION" and _wire(h3)["quic_error_space"] == "transport"
    h3.h3_close(0x102, "application", "after_headers")
    assert _wire(h3)["code_name"] == "H3_INTERNAL_ERROR" and not h3.h3_action().transport


def test_end_connection_is_a_connection_close_in_its_place(h3):
    h3.end_connection("fin", "mid_body", body_sent=10)
    assert h3.h3_action() == H3Action("connection_close", "mid_body", code=0x100)
    assert list(_wire(h3).items()) == [("stream_id", 4), ("h3_frame", "connection_close"), ("code", 0x100),
                                       ("quic_error_space", "application"), ("phase", "mid_body"), ("body_sent", 10),
                                       ("instead_of", "fin"), ("code_name", "H3_NO_ERROR")]


def test_pace_and_hold_and_their_flags(h3):
    assert h3.throttle(5000) and h3.h3_action() == H3Action("pace", rate=5000)
    assert _wire(h3) == {"throttled_bytes_per_s": 5000}
    assert h3.stall_stream(250)
    assert h3.h3_action() == H3Action("hold", "mid_body", hold_ms=250)
    h3.h2_hold_now()
    h3.h2_cut_now()
    assert h3.h3_action().hold_now and h3.h3_action().cut_now and not h3.h3_action().fired


def test_a_flag_without_an_action_does_nothing(h3):
    h3.h2_cut_now()
    assert h3.h3_action() is None and not h3.ends_after_headers()


def test_violation_has_no_http3_counterpart(h3):
    with pytest.raises(AssertionError, match="no HTTP/3 counterpart"):
        h3.h2_violation("bad_hpack")
