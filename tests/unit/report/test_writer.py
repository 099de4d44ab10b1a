"""faults/report/writer.py. fault_report on a full disk: records dropped and counted, one warning,
never a partial line, writing resumes when space returns, the count is in the summary."""

import errno
import io
import json
import logging

from mitmproxy.test import taddons, tflow

from faults.report import reader, writer as reportmod
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
    assert reader.read(p) == [{"a": 1}, {"b": "é"}]


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
        tctx.master.should_exit.set()  # the summary is the exit's
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
