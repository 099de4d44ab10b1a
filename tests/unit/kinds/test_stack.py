"""faults.kinds._stack and faults.spec.stack: several faults on one request."""

import asyncio

import pytest
from mitmproxy.test import tflow

from faults import spec
from faults.errors import SpecError
from faults.kinds import instantiate
from faults.kinds._stack import Stack
from faults.wire.act import Act


def test_latency_first_whatever_the_order_written():
    s, _ = spec.parse("status code=503 + delay ms=200")
    assert s.text == "delay ms=200 + status code=503" and s.kind == "delay+status"
    assert isinstance(instantiate(s), Stack)
    t, sel = spec.parse("delay ms=1 + throttle bytes_per_s=10 + reset probability=0.5", allow_selection=True)
    assert [p.kind for p in t.parts] == ["delay", "throttle", "reset"] and sel == {"probability": "0.5"}


@pytest.mark.parametrize("text, needle", [
    ("status code=503 + reset", "cannot combine: each decides what the client gets"),
    ("delay ms=1 + status code=503 when=early", "acts while the request arrives"),
    ("delay ms=1 + tls handshake=alert", "acts on the connection"),
    ("delay ms=1 + ws_close", "WebSocket"),
    ("delay ms=1 + ", "nothing on one side"),
    ("delay ms=1 probability=0.1 + status code=503 probability=0.2", "given twice"),
])
def test_faults_that_cannot_combine_are_refused(text, needle):
    with pytest.raises(SpecError, match=needle):
        spec.parse(text, allow_selection=True)


def test_one_fault_in_a_list_is_that_fault():
    one = spec.parse("delay ms=5")[0]
    assert spec.stack([one]) is one


def test_parts_act_in_order_and_an_ended_flow_stops_the_rest():
    s, _ = spec.parse("delay ms=30 + status code=503")
    fault = instantiate(s)

    async def scenario(kill_first):
        f = tflow.tflow()
        f.client_conn.timestamp_end = None  # the client is still there
        act = Act(f, asyncio.Event(), __import__("random").Random(1))
        if kill_first:
            f.kill()
        await fault.request(f, act)
        return f

    f = asyncio.run(scenario(False))
    assert f.response.status_code == 503 and f.metadata["fault_wire"]["delay_ms"] == 30
    assert f.metadata["fault_wire"]["synthetic_status"] == 503
    f = asyncio.run(scenario(True))
    assert f.response is None or f.response.status_code != 503
