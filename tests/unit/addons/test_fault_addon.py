"""FaultAddon calls its children's hooks itself once running: same order, async hooks
awaited before the next child, children still registered by name."""

import asyncio

from mitmproxy import hooks
from mitmproxy.proxy.layers.http import HttpRequestHook
from mitmproxy.test import taddons, tflow

from faults.addons import FaultAddon


def test_children_hooks_in_order_and_awaited():
    calls = []

    class First:
        def running(self):
            calls.append("first.running")

        def request(self, flow):
            calls.append("first")

    class Second:
        async def request(self, flow):
            calls.append("second:start")
            await asyncio.sleep(0)
            calls.append("second:end")

    class Third:
        def request(self, flow):
            calls.append("third")

    fa = FaultAddon()
    fa.children[:] = [First(), Second(), Third()]  # the list mitmproxy walks until running

    async def scenario():
        with taddons.context(fa) as tctx:
            assert tctx.master.addons.get("second") is fa.children[1]  # registered by name
            await tctx.master.addons.trigger_event(hooks.RunningHook())
            assert calls == ["first.running"] and not hasattr(fa, "addons")  # mitmproxy no longer walks them
            await tctx.master.addons.handle_lifecycle(HttpRequestHook(tflow.tflow()))
            assert calls[1:] == ["first", "second:start", "second:end", "third"]
            assert not hasattr(fa, "responseheaders")  # no child has it: nothing to call

    asyncio.run(scenario())


def test_the_real_children_still_answer_by_name_once_running():
    fa = FaultAddon()

    async def scenario():
        with taddons.context(fa) as tctx:
            await tctx.master.addons.trigger_event(hooks.RunningHook())
            for name in ("faultinjector", "classifier", "faultstatus", "faultcontrol", "faultpassthrough"):
                assert tctx.master.addons.get(name) in fa.children
            assert callable(fa.request) and callable(fa.response) and callable(fa.next_layer)

    asyncio.run(scenario())


def test_running_freezes_the_startup_heap_in_a_proxy_process(monkeypatch):
    """What exists once running (modules, the plan) is out of the collector's sight, in a
    proxy process (mitmdump's master); a test's master freezes nothing."""
    import gc

    import faults.addons as fa_mod

    kept = object.__new__(type("Kept", (), {}))  # a GC-tracked object made before running
    gc.unfreeze()
    try:
        for proxy in (False, True):
            fa = FaultAddon()
            fa.children[:] = []
            with taddons.context(fa):
                assert not fa_mod.proxy_process()  # taddons' master is not a proxy's
                monkeypatch.setattr(fa_mod, "proxy_process", lambda: proxy)
                fa.running()
                assert (gc.get_freeze_count() > 0) is proxy
                in_a_generation = any(o is kept for o in gc.get_objects())  # by identity: some __eq__ raise
                assert in_a_generation is not proxy  # frozen objects are in no generation
                monkeypatch.undo()
    finally:
        gc.unfreeze()


def test_mitmdumps_master_is_a_proxy_process():
    from mitmproxy import ctx, options
    from mitmproxy.tools.dump import DumpMaster

    import faults.addons as fa_mod

    async def scenario():
        master = DumpMaster(options.Options(), with_termlog=False, with_dumper=False)
        before = getattr(ctx, "master", None)
        ctx.master = master
        try:
            assert fa_mod.proxy_process()
        finally:
            ctx.master = before

    asyncio.run(scenario())


def test_a_reload_runs_the_async_part_itself_and_frees_the_names():
    """mitmproxy's script reload: the old addon removed (``done`` called, not awaited), the
    new one registered under the same names, its ``running`` called, not awaited."""
    calls = []

    class Child:
        name = "reloadchild"

        async def running(self):
            calls.append("running")

        async def done(self):
            calls.append("done")

    def addon():
        fa = FaultAddon()
        fa.children[:] = [Child()]
        return fa

    async def scenario():
        old = addon()
        with taddons.context(old) as tctx:
            first = old.running()  # the first start: mitmproxy awaits what running returns
            assert first is not None and calls == []
            await first
            tctx.master.addons.remove(old)  # done, not awaited: the async part runs as a task
            new = addon()
            tctx.master.addons.register(new)  # the names are free again
            assert new.running() is None  # under the same master: a reload, run as a task
            for _ in range(5):
                await asyncio.sleep(0)
            assert calls == ["running", "done", "running"]

    asyncio.run(scenario())
