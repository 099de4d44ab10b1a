"""The addon's CPU per HTTP/1.1 exchange, in-process (bench/run.py section ``dispatch``).

mitmproxy's real hook dispatch (a DumpMaster with its default addons, no sockets)
for the four hooks of one exchange and the ``update`` after each, plain vs the addon
loaded the way ``mitmdump -s CHECKOUT/addons/errors.py`` loads it (a script);
batches of 300 exchanges alternate between the two, and the minimum over batches
is kept: on a shared machine other processes only ever add time, so the minimum
is the least disturbed measure. Prints one JSON line.

    python bench/dispatch.py CHECKOUT a|b [BATCHES]
"""
import asyncio
import json
import os
import sys
import tempfile
import time

root, cfg = sys.argv[1], sys.argv[2]
sys.path.insert(0, root)
from mitmproxy import options, hooks, ctx as mctx  # noqa: E402
from mitmproxy.tools.dump import DumpMaster  # noqa: E402
from mitmproxy.proxy.layers.http import (HttpRequestHeadersHook, HttpRequestHook,  # noqa: E402
                                         HttpResponseHeadersHook, HttpResponseHook)
from mitmproxy.test import tflow  # noqa: E402

async def make(addon):
    m = DumpMaster(options.Options(mode=["reverse:http://127.0.0.1:1"], listen_port=0), with_termlog=False, with_dumper=True)
    m.options.update(server=False, flow_detail=0)
    if addon:
        mctx.master, mctx.options = m, m.options
        m.options.update(scripts=[os.path.join(root, "addons", "errors.py")])
        for _ in range(100):
            if m.addons.get("faultinjector") is not None:
                break
            await asyncio.sleep(0.05)
        m.options.update(fault_status=False)
        if cfg == "b":
            p = tempfile.mktemp(suffix=".yaml")
            open(p, "w").write("seed: 1\nrules:\n" + "".join(f"  - {{match: '~d host-{i}.invalid', fault: 'status code=503'}}\n" for i in range(1000)))
            m.options.update(fault_plan=p)
    await m.addons.trigger_event(hooks.RunningHook())
    return m

async def main():
    ms = {"plain": await make(False), cfg: await make(True)}
    assert ms[cfg].addons.get("faultinjector") is not None
    cc = tflow.tclient_conn()
    async def one(m):
        f = tflow.tflow(client_conn=cc, resp=True); f.request.host = "127.0.0.1"
        resp = f.response; f.response = None
        await m.addons.handle_lifecycle(HttpRequestHeadersHook(f))
        await m.addons.handle_lifecycle(HttpRequestHook(f))
        f.response = resp
        await m.addons.handle_lifecycle(HttpResponseHeadersHook(f))
        await m.addons.handle_lifecycle(HttpResponseHook(f))
    res = {k: [] for k in ms}
    for m in ms.values():
        mctx.master, mctx.options = m, m.options
        for _ in range(300): await one(m)
    for b in range(int(sys.argv[3]) if len(sys.argv) > 3 else 30):
        for k, m in ms.items():
            mctx.master, mctx.options = m, m.options
            t0 = time.process_time()
            for _ in range(300): await one(m)
            res[k].append((time.process_time() - t0) / 300 * 1e6)
    print(json.dumps({"checkout": root, "config": cfg, "plain_us": min(res["plain"]), "addon_us": min(res[cfg]),
                      "added_us": min(res[cfg]) - min(res["plain"])}))


if __name__ == "__main__":
    asyncio.run(main())
