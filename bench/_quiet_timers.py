"""Loaded by bench/callgrind.py (``mitmdump -s``) in every configuration: once running, the
periodic wake-ups stop (mitmproxy's script file watchers, the addon's plan file watcher and
status line refresh), so the instructions counted under load are the requests' own. Under
valgrind (~50x slower) those timers would otherwise add ~50x their real share per request,
and that share would follow the machine's load (the wall time of the run)."""
import sys

from mitmproxy import ctx


class QuietTimers:
    def running(self):
        loader = ctx.master.addons.get("scriptloader")
        for script in getattr(loader, "addons", []):
            task = getattr(script, "reloadtask", None)
            if task is not None:
                task.cancel()
        for module, name in (("faults.addons.injector", "RELOAD_INTERVAL"), ("faults.addons.status", "INTERVAL")):
            if module in sys.modules:  # read at each turn of its loop: the next sleep is long
                setattr(sys.modules[module], name, 3600)


addons = [QuietTimers()]
