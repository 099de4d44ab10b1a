"""faults/wire/collateral.py: a sibling stream a GOAWAY (then close) did not cover is refused,
i.e. retried elsewhere, except the connection's first stream under an error code (Go aborts it:
catalog.tables.goaway_aborts_first_stream)."""

import pytest
from mitmproxy.test import tflow

from faults import vocabulary
from faults.wire import ends
from faults.wire.collateral import collateral


@pytest.mark.parametrize("sid, last, code, refused", [
    (3, 1, 0xB, True),  # above last_stream_id: retried elsewhere
    (None, 1, 0xB, True),  # unknown when the GOAWAY went out: it came after it
    (1, 0, 0x0, True),  # the first stream, no error: retried
    (1, 0, 0xB, False),  # the first stream, an error: Go aborts it
    (1, 1, 0xB, False),  # covered
])
def test_a_sibling_above_last_stream_id_is_refused_but_an_aborted_first_stream(sid, last, code, refused):
    flow = tflow.tflow()
    ends.mark(flow.client_conn.id, "culprit", h2_frame="goaway", code=code, last_stream=last,
              streams={} if sid is None else {flow.id: sid})
    try:
        collateral(flow)
    finally:
        ends.forget(flow.client_conn.id)
    wire = flow.metadata[vocabulary.WIRE]
    assert wire["collateral_of"] == "culprit" and wire["code"] == code
    assert bool(wire.get("goaway_refused")) is refused
    assert wire["phase"] == ("refused" if refused else "before_response")
