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


def test_under_a_script_module_the_module_holds_the_hooks():
    """``mitmdump -s``: the script module whose ``addons`` is ``[FaultAddon]`` becomes the end
    of mitmproxy's walk (no ``addons`` left, the hooks its attributes); mitmproxy's dispatch
    still reaches the children, and removing the module (a reload) frees every name."""
    import types

    calls = []

    class Child:
        name = "modulechild"

        def request(self, flow):
            calls.append("request")

    def module():
        ns = types.ModuleType("script")
        ns.name = "script"  # as addons, modules are named by this (or all "module")
        fa = FaultAddon()
        fa.children[:] = [Child()]
        fa.addons = fa.children
        ns.addons = [fa]
        return ns, fa

    async def scenario():
        with taddons.context() as tctx:
            ns, fa = module()
            shared = types.ModuleType("users_script")  # another addon beside ours: left as it is
            shared.name = "users_script"
            other = FaultAddon()
            other.name = "other"
            other.children[:] = []
            other.addons = []
            shared.addons = [other, object.__new__(type("Mine", (), {}))]
            tctx.master.addons.add(ns)
            tctx.master.addons.add(shared)
            await tctx.master.addons.trigger_event(hooks.RunningHook())
            assert not hasattr(ns, "addons") and callable(ns.request) and not hasattr(fa, "request")
            assert len(shared.addons) == 2
            await tctx.master.addons.handle_lifecycle(HttpRequestHook(tflow.tflow()))
            assert calls == ["request"]
            tctx.master.addons.remove(ns)  # what a script reload does first
            assert tctx.master.addons.get("faultaddon") is not fa and tctx.master.addons.get("modulechild") is None
            ns2, _ = module()
            tctx.master.addons.add(ns2)  # the reloaded script registers the same names
            assert tctx.master.addons.get("modulechild") is ns2.addons[0].children[0]

    asyncio.run(scenario())


def test_idle_hooks_are_left_out_until_an_option_needs_them():
    """The control endpoint off without a token, no Alt-Svc option: their request hooks are not
    called (``dispatch_table``); setting the option brings them back at ``configure``."""
    fa = FaultAddon()
    injector = next(c for c in fa.children if type(c).__name__ == "FaultInjector")

    async def scenario():
        with taddons.context(fa) as tctx:
            await tctx.master.addons.trigger_event(hooks.RunningHook())
            assert fa.request == injector.request and fa.responseheaders == injector.responseheaders
            tctx.configure(fa.children[1], fault_control=True)
            assert fa.request != injector.request and fa.responseheaders == injector.responseheaders
            f = tflow.tflow()
            f.request.host = "faults.control"
            f.request.path = "/rules"
            await tctx.master.addons.handle_lifecycle(HttpRequestHook(f))
            assert f.response is not None  # the endpoint answered
            tctx.configure(fa.children[1], fault_control=False, fault_strip_alt_svc=True)
            assert fa.request == injector.request and fa.responseheaders != injector.responseheaders

    asyncio.run(scenario())
