"""The shutdown summary files each x-fault header flow under its own spec."""

import asyncio
import io

from mitmproxy.test import taddons, tflow

from faults.addons import status as statusmod
from faults.addons.annotate import Classifier
from faults.addons.injector import FaultInjector
from faults.addons.status import FaultStatus


def send(inj, cls, st, header):
    f = tflow.tflow()
    f.request.headers["x-fault"] = header

    async def go():
        cls.requestheaders(f)
        if (pending := inj.request(f)) is not None:
            await pending
        if f.response is None:
            f.response = tflow.tresp()
        cls.response(f)
        st.count(f)
    asyncio.run(go())
    return f


def test_header_flows_are_filed_under_their_own_spec():
    inj, cls, st = FaultInjector(), Classifier(), FaultStatus(stream=io.StringIO())
    with taddons.context(inj, cls, st) as tctx:
        tctx.configure(inj, fault_header=True)
        for h in ["status code=503"] * 2 + ["status code=404"] * 3 + ["status code=429"]:
            send(inj, cls, st, h)
    text = st.summary()
    lines = [line for line in text.splitlines() if line.startswith("x-fault header")]
    assert sorted(line.split("  ")[1].strip() for line in lines) == ["status code=404", "status code=429", "status code=503"]
    assert any("status code=404" in line and "1404x3" in line for line in lines)
    assert any("status code=503" in line and "1503x2" in line and "1404" not in line for line in lines)


def test_distinct_header_specs_are_bounded(monkeypatch):
    monkeypatch.setattr(statusmod, "MAX_SPECS_PER_RULE", 3)
    inj, cls, st = FaultInjector(), Classifier(), FaultStatus(stream=io.StringIO())
    with taddons.context(inj, cls, st) as tctx:
        tctx.configure(inj, fault_header=True)
        for code in range(500, 510):
            send(inj, cls, st, f"status code={code}")
    lines = [line for line in st.summary().splitlines() if line.startswith("x-fault header")]
    assert len(lines) == 4 and any("(other specs)" in line and "7" in line for line in lines)
