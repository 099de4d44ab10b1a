"""Plan hot reload under bad edits: never dies, says why at a level `mitmdump -q` shows
(termlog_verbosity=error), keeps the last good plan, loads the next good edit."""

import asyncio
import logging
import os
import time

import pytest
from mitmproxy.test import taddons

from faults import plan as planmod
from faults.addons import injector as injmod
from faults.addons.injector import FaultInjector
from tests.waiting import wait_until_async

GOOD = "rules:\n  - fault: status code={}\n"


async def settle(inj, want, timeout=3.0):
    """Until the rules are ``want`` (bounded: False after ``timeout``)."""
    return await wait_until_async(lambda: [r.spec.text for r in inj.rules] == want, timeout, f"the rules {want}",
                                  fail=False)


def bump(path, n):
    os.utime(path, ns=(n * 10**9, n * 10**9))


def errors(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def _binary(p):
    p.write_bytes(b"rules:\n  - fault: status code=503 body=\xff\xfe\n")


def _wrong_type(p):
    p.write_text("rules:\n  - fault: {kind: delay, ms: .inf}\n")


def _directory(p):
    p.unlink()
    p.mkdir()


def _deleted(p):
    p.unlink()


@pytest.mark.parametrize("bad_edit, needle", [
    (_binary, "not UTF-8"),
    (_wrong_type, "ms=inf"),
    (_directory, "cannot read fault plan"),
    (_deleted, "is gone"),
])
def test_bad_edit_is_an_error_line_and_the_next_good_edit_loads(tmp_path, caplog, monkeypatch, bad_edit, needle):
    monkeypatch.setattr(injmod, "RELOAD_INTERVAL", 0.01)
    p = tmp_path / "plan.yaml"
    p.write_text(GOOD.format(501))
    inj = FaultInjector()

    async def scenario():
        with taddons.context(inj) as tctx:
            tctx.configure(inj, fault_plan=str(p))
            inj.running()
            bad_edit(p)
            if p.exists():
                bump(p, 1)
            await wait_until_async(lambda: any(needle in m for m in errors(caplog)), 3, f"the error {needle!r}",
                                   seen=lambda: caplog.text)
            assert [r.spec.text for r in inj.rules] == ["status code=501"]  # the last good plan
            if p.is_dir():
                p.rmdir()
            p.write_text(GOOD.format(502))
            bump(p, 2)
            assert await settle(inj, ["status code=502"]), caplog.text
            await inj.done()

    asyncio.run(scenario())
    assert "Traceback" not in caplog.text


def test_unreadable_file_is_refused_with_the_reason(tmp_path, monkeypatch):
    p = tmp_path / "plan.yaml"
    p.write_text(GOOD.format(501))
    real_open = type(p).open

    def deny(self, *a, **kw):
        if self == p:
            raise PermissionError(13, "Permission denied")
        return real_open(self, *a, **kw)

    monkeypatch.setattr(type(p), "open", deny)  # as root, chmod 000 does not stop reads
    with pytest.raises(planmod.SpecError, match="cannot read fault plan: Permission denied"):
        planmod.load_file(p)


def test_watcher_survives_an_unexpected_exception(tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(injmod, "RELOAD_INTERVAL", 0.01)
    p = tmp_path / "plan.yaml"
    p.write_text(GOOD.format(501))
    inj = FaultInjector()
    real = planmod.load_file
    calls = []

    def flaky(path):
        calls.append(path)
        if len(calls) == 1:
            raise RuntimeError("a bug nobody foresaw")
        return real(path)

    async def scenario():
        with taddons.context(inj) as tctx:
            tctx.configure(inj, fault_plan=str(p))
            monkeypatch.setattr(planmod, "load_file", flaky)
            inj.running()
            p.write_text(GOOD.format(502))
            bump(p, 1)
            await wait_until_async(lambda: calls, 3, "the watcher's first load (the one that raises)")
            p.write_text(GOOD.format(503))
            bump(p, 2)
            assert await settle(inj, ["status code=503"]), caplog.text
            await inj.done()

    asyncio.run(scenario())
    assert any("a bug nobody foresaw" in m for m in errors(caplog))


def test_a_refused_edit_is_logged_once_not_every_poll(tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(injmod, "RELOAD_INTERVAL", 0.01)
    p = tmp_path / "plan.yaml"
    p.write_text(GOOD.format(501))
    inj = FaultInjector()
    seen, signature = [], injmod._signature  # each poll of the watcher reads the file's signature
    monkeypatch.setattr(injmod, "_signature", lambda path: seen.append(path) or signature(path))

    async def scenario():
        with taddons.context(inj) as tctx:
            tctx.configure(inj, fault_plan=str(p))
            inj.running()
            p.unlink()
            await wait_until_async(lambda: any("is gone" in m for m in errors(caplog)), 3, "the vanished plan's error")
            polls = len(seen)
            await wait_until_async(lambda: len(seen) >= polls + 10, 3, "ten more polls of the watcher")
            await inj.done()

    asyncio.run(scenario())
    assert len([m for m in errors(caplog) if "is gone" in m]) == 1


def test_a_plan_made_readable_again_reloads_without_an_edit(tmp_path, monkeypatch):
    """chmod changes only the ctime: the watcher must notice it too."""
    sig = injmod._signature
    p = tmp_path / "plan.yaml"
    p.write_text(GOOD.format(501))
    before = sig(p)
    st = os.stat(p)
    time.sleep(0.05)  # kept: the subject (a later ctime: past the filesystem's timestamp tick)
    os.chmod(p, 0o600)
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))  # same mtime, as a chmod leaves it
    assert sig(p) != before
