"""faults.report. fault_report on a full disk: records dropped and counted, one warning, never a
partial line, writing resumes when space returns, the count is in the summary. And what a
record counts as, for fault_metrics and the HTML report."""

import errno
import io
import json
import logging

import pytest
from mitmproxy.test import taddons, tflow

from faults import report as reportmod
from faults.addons.annotate import Classifier
from faults.addons.status import FaultStatus


class Disk:
    """A file with ``space`` bytes left: short writes, then ENOSPC, like a full filesystem."""

    def __init__(self, space):
        self.data, self.space = bytearray(), space

    def write(self, b):
        if self.space <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        n = min(len(b), self.space)
        self.data += b[:n]
        self.space -= n
        return n

    def seek(self, offset, whence=0):
        return len(self.data)

    def truncate(self, size):
        self.space += len(self.data) - size
        del self.data[size:]

    def close(self):
        pass


def lines(disk):
    text = disk.data.decode()
    assert text == "" or text.endswith("\n"), "a partial line"
    return [json.loads(line) for line in text.splitlines()]


def test_full_disk_drops_counts_warns_once_and_resumes(tmp_path, caplog):
    rep = reportmod.Report(tmp_path / "r.jsonl")
    rep._fh.close()
    rep._fh = disk = Disk(space=30)
    for i in range(5):  # the first fits, the second only in part, then none
        rep.write({"n": i, "pad": "x" * 5})
    assert [r["n"] for r in lines(disk)] == [0]
    assert rep.dropped == 4
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "cannot write" in r.getMessage()]
    assert len(warnings) == 1 and "No space left on device" in warnings[0].getMessage()
    disk.space = 10_000  # space returns
    rep.write({"n": 5})
    rep.write({"n": 6})
    assert [r["n"] for r in lines(disk)] == [0, 5, 6] and rep.dropped == 4
    assert "writing to" in caplog.text and "again (4 record(s) dropped so far)" in caplog.text
    assert "Traceback" not in caplog.text


def test_a_short_write_that_completes_is_not_a_drop(tmp_path):
    class Slow(Disk):
        def write(self, b):
            return super().write(b[:3])  # the kernel may take a few bytes at a time

    rep = reportmod.Report(tmp_path / "r.jsonl")
    rep._fh.close()
    rep._fh = disk = Slow(space=10_000)
    rep.write({"n": 1})
    assert lines(disk) == [{"n": 1}] and rep.dropped == 0


def test_real_file_still_appends_whole_lines(tmp_path):
    p = tmp_path / "r.jsonl"
    rep = reportmod.Report(p)
    rep.write({"a": 1})
    rep.write({"b": "é"})
    rep.close()
    assert reportmod.read(p) == [{"a": 1}, {"b": "é"}]


def test_dropped_records_are_counted_in_the_shutdown_summary(tmp_path):
    cls = Classifier()
    st = FaultStatus(stream=io.StringIO(), classifier=cls)
    with taddons.context(cls, st) as tctx:
        tctx.configure(cls, fault_report=str(tmp_path / "r.jsonl"))
        cls.report._fh.close()
        cls.report._fh = Disk(space=0)
        for _ in range(3):
            f = tflow.tflow(resp=True)
            cls.requestheaders(f)
            cls.response(f)
            st.count(f)
        st.done()
    assert "fault_report: 3 record(s) dropped (write errors, e.g. a full disk)" in st.stream.getvalue()


def test_real_enospc_from_dev_full(caplog):
    """/dev/full answers every write with the kernel's own ENOSPC."""
    import os
    import pytest
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    rep = reportmod.Report("/dev/full")
    for i in range(3):
        rep.write({"n": i})
    rep.close()
    assert rep.dropped == 3
    assert len([r for r in caplog.records if "cannot write" in r.getMessage()]) == 1


def test_every_record_carries_t_and_duration_ms(monkeypatch):
    """``t``: seconds from the run's t0 to the record's start; ``duration_ms``: start to settled."""
    import time

    from faults import gates

    monkeypatch.setattr(gates.clock, "t0", None)
    monkeypatch.setattr(gates.clock, "path", None)
    tctx_cls = Classifier()
    with taddons.context(tctx_cls):
        flow = tflow.tflow(resp=True)
        flow.request.timestamp_start = time.time() - 0.25
        gates.clock.start(flow.request.timestamp_start - 2.0)  # the run began 2 s before this request
        tctx_cls.finish(flow)
    rec = reportmod.flow_record(flow, *_classified(tctx_cls, flow))
    assert isinstance(rec["t"], float) and abs(rec["t"] - 2.0) < 0.01
    assert 240 <= rec["duration_ms"] < 2000
    rec = reportmod.connection_record(proxy="p", listen=None, upstream=None, client=None, n=1, end="rst",
                                      why=None, bytes_up=0, bytes_down=0, toxics={})
    assert rec["t"] >= 2.2 and rec["duration_ms"] is None


def _classified(cls, flow):
    c, shared = cls._classified(flow)
    return c, flow.metadata.get("fault"), shared[3]


# -- what a record counts as (fault_metrics and the HTML report share these) -----------
@pytest.mark.parametrize("spec,kind", [("status code=503", "status"), ("hang", "hang"), ("", ""), (None, ""),
                                       ("delay ms=200 + status code=503", "delay+status")])
def test_the_kind_of_a_spec(spec, kind):
    assert reportmod.kind_of(spec) == kind


def test_the_outcome_label_and_client_errors_of_a_record():
    assert reportmod.k6_code_label({"record": "flow", "k6_error_code": 1503}) == "1503"
    assert reportmod.k6_code_label({"record": "websocket"}) == "ws"
    assert reportmod.k6_code_label({"record": "connection", "k6_error_code": None}) == "none"
    clients = {"k6": {"error": 0}, "curl": {"error": 56}, "httpx": {"error": None}, "node": {"error": "ok"},
               "chromium": {"error": "net::ERR_EMPTY_RESPONSE"}, "odd": "not a dict"}
    assert list(reportmod.client_errors(clients)) == [("curl", "56"), ("chromium", "net::ERR_EMPTY_RESPONSE")]
