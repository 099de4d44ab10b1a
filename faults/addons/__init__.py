"""The mitmproxy addons, each thin: they read the plan, call the kinds, the
classifier and the report, and hold no protocol logic of their own.

``FaultAddon`` is the one top-level addon the entry script registers; the
components are its children, called in this order:

- ``Workers`` first: this process as one of ``faults proxy --workers N`` (worker id,
  seeds, the shared listener, the control fan-out); it is configured before any rule is built;
- ``FaultControl``: it answers requests to the control host before any fault applies;
- ``ToxiproxyApi``: Toxiproxy's API and its proxies (listeners, raw TCP toxics, http toxics);
- ``QuicFront``: HTTP/3 clients of a reverse proxy served over a TCP upstream (its
  ``next_layer`` decides before ``H2Frames`` asks mitmproxy's own), Alt-Svc options
  (``faults.wire.quic``);
- ``FaultInjector``: selects a rule per flow and runs its kind (``faults.kinds``);
- ``TlsFaults``: connection-level TLS faults, selected at the ClientHello;
- ``DatagramFaults``: ``quic_datagrams`` rules, per QUIC connection at its ClientHello;
- ``H2Preference``: option ``fault_prefer_h2`` (after ``TlsFaults``: it adjusts the
  TLS connection that addon or mitmproxy's TlsConfig made);
- ``DnsFaults``: ``dns``/``refuse``/``blackhole`` rules on the DNS mode's queries;
- ``H2Frames``: installs the frame-capable HTTP layer (``faults.wire.h2layer``) on the
  connections that may need it (told by the injector when a rule is selected or the rules change);
- ``FaultPassthrough``: relays connections no rule can select as bytes (option
  ``fault_passthrough``, off); after ``H2Frames``, which may ask mitmproxy's own
  ``next_layer`` again, so that waiting for more bytes (a split ClientHello) holds;
- ``WsFrames``: the same for WebSocket sessions (``faults.wire.wslayer``);
- ``Classifier``: after the injector on the same hooks, so it sees what the fault did;
- ``FaultStatus``: it reads what the classifier wrote;
- ``FaultMetrics``: option ``fault_metrics`` (Prometheus ``/metrics``); it attaches its
  counters to the classifier and the injector while on (after ``Workers``: it reads the
  worker id and directory);
- ``FaultStartup`` last: at ``running`` it refuses unknown ``fault*`` options
  and logs the one line saying what is active.

Children rather than top-level addons because mitmproxy's dispatch costs
about 15-20 us per top-level addon per HTTP exchange, even for hooks an addon
does not have; children share one dispatch, and once running ``FaultAddon``
calls their hooks itself (see the class). They are still registered: options
and commands work (bench/README.md, notes).

``FaultAddon`` is also the composition root: it builds every child with
references to the children it uses (the injector's rules, the classifier's
report, the workers' fan-out), so none looks another up by name at run time.
"""

import asyncio
import gc
import inspect
import types

from mitmproxy import addonmanager, ctx, hooks

from faults.addons import succession
from faults.addons.alpn import H2Preference
from faults.addons.annotate import Classifier
from faults.addons.control import FaultControl
from faults.addons.datagrams import DatagramFaults
from faults.addons.dns import DnsFaults
from faults.addons.injector import FaultInjector
from faults.addons.metrics import FaultMetrics
from faults.addons.passthrough import FaultPassthrough
from faults.addons.startup import FaultStartup
from faults.addons.status import FaultStatus
from faults.addons.tls import TlsFaults
from faults.addons.toxiproxy import ToxiproxyApi
from faults.addons.workers import Workers
from faults.wire.h2layer import H2Frames
from faults.wire import servers
from faults.wire.quic import QuicFront
from faults.wire.wslayer import WsFrames


class FaultAddon:
    """The children, registered as mitmproxy addons (options, commands, names).

    Once running, their hooks are called from here: mitmproxy walks an addon's
    children for every event (a generator per nesting level: the script, its
    module, this addon), whether they have the hook or not. For the eight
    events of one HTTP/1.1 exchange that walk cost about as much as all our
    hooks' own work; here each event is one attribute lookup, and a hook no
    child has is no attribute at all (bench/README.md, overhead).
    """

    name = "faultaddon"

    def __init__(self):
        # The composition root: each child gets what it uses here; no child looks
        # another up by name (tests/unit/test_layering.py) or writes its state.
        classifier = Classifier()
        status = FaultStatus(classifier=classifier)
        classifier.listeners.append(status.count)  # counted once annotated (HTTP/2: once written)
        toxiproxy = ToxiproxyApi(classifier)
        injector = FaultInjector(selectors=[toxiproxy.select])  # a Toxiproxy proxy's http toxics first
        workers = Workers()
        control = FaultControl(injector, classifier, status, workers)
        workers.changes_to(control.apply_change)  # a sibling worker's runtime change applies here
        h2frames = H2Frames(on_settled=classifier.written, injector=injector, toxiproxy=toxiproxy)
        injector.on_start.append(h2frames.ensure)  # a selected flow's connection gets the layer
        injector.on_rules_changed.append(h2frames.rules_changed)
        self.children = [workers, control, toxiproxy, QuicFront(), injector, TlsFaults(injector, classifier),
                         DatagramFaults(injector, classifier), H2Preference(),
                         DnsFaults(injector, classifier), h2frames,
                         FaultPassthrough(injector, toxiproxy), WsFrames(), classifier, status,
                         FaultMetrics(classifier, injector), FaultStartup(injector)]
        self.addons = self.children  # mitmproxy walks the children (until running)

    def running(self):
        # mitmproxy reads ``addons`` after this returns: from here on there is none (its
        # walk stops at this addon, not even an empty list to walk: 8 events per exchange),
        # and every hook any child has is an attribute of this addon (or of its script module)
        reloaded = succession.take_over(self) is not None  # one ran under this master before: a script reload
        self.__dict__.pop("addons", None)
        self._host = _script_module_of(self) or self
        self._installed: set = set()
        table = self._install()
        _freeze_startup_heap()
        running = table.get("running")
        return _on_reload(running, lambda: reloaded)() if running else None

    def _install(self) -> dict:
        """The dispatch table, as attributes of the host: built at ``running`` and again after
        each ``configure`` (a child's idle hooks depend on its options, ``dispatch_table``)."""
        table = dispatch_table(self.children)
        # names first: a script reload registers the new script's children right after
        table["done"] = _on_reload(_chain([self._forget_names, *([table["done"]] if "done" in table else [])]),
                                   lambda: not servers.exiting())
        table["configure"] = _then(table.get("configure"), self._install)
        for name in self._installed - table.keys():
            delattr(self._host, name)
        for name, call in table.items():
            setattr(self._host, name, call)
        self._installed = set(table)
        return table

    def _forget_names(self):
        """mitmproxy's ``remove`` (a script reload) drops the names it walks; ours it no
        longer walks: drop them at ``done``, or the reloaded script could not register them."""
        lookup = getattr(ctx.master.addons, "lookup", {})
        for child in (self, *self.children):
            name = getattr(child, "name", type(child).__name__.lower())
            if lookup.get(name) is child:
                del lookup[name]


def _script_module_of(addon) -> types.ModuleType | None:
    """The script module (``mitmdump -s``) whose ``addons`` is ``[addon]`` alone, made the
    end of mitmproxy's walk: its ``addons`` removed, the hooks become its attributes. The walk
    (script loader, script, module, this addon) then stops one level up, for every event,
    hooked or not: about 31,000 instructions per HTTP/1.1 exchange (docs/performance.md). A module
    that also lists other addons (a user's own script) is left as it is. mitmproxy's script
    reload removes the module, calls its ``done`` (ours) and never reads ``addons`` again."""
    for a in addonmanager.traverse(ctx.master.addons.chain):
        if isinstance(a, types.ModuleType) and getattr(a, "addons", None) == [addon]:
            del a.addons
            return a
    return None


def _on_reload(hook, reloading):
    """A script reload (mitmproxy reloads a script whose file changed) calls the old addon's
    ``done`` and the new one's ``running`` without awaiting them: their children's async
    part then runs as a task, instead of never (``reloading()``: this call is one)."""
    def call(*args):
        res = hook(*args)
        if res is not None and inspect.isawaitable(res) and reloading():
            task = asyncio.ensure_future(res)
            _reload_tasks.add(task)
            task.add_done_callback(_reload_tasks.discard)
            return None
        return res
    return call


_reload_tasks: set = set()


def _freeze_startup_heap() -> None:
    """Everything alive once mitmproxy runs (its modules, ours, the plan's rules) lives as
    long as the process: out of the collector's sight (``gc.freeze``), a full collection
    under load walks only what traffic made. Measured on mitmdump under k6 (bench/hookcpu.py,
    HTTP/1.1): the full collections' CPU per request from ~50 to ~4 us. The cost: a cycle of
    these objects that later becomes garbage is never reclaimed (objects without cycles still
    are, by reference counting): the plan loaded at start, once replaced (a reload, a --set),
    stays in memory, once; plans loaded later are not frozen. Only in a proxy process
    (``proxy_process``): a test process that starts many addons would keep every one of them
    and what its tests made until then."""
    if proxy_process():
        gc.collect()  # garbage made while starting is not frozen
        gc.freeze()


def proxy_process() -> bool:
    """Whether this process is a proxy run from mitmproxy's tools (mitmdump, mitmweb, the
    console: their masters live in ``mitmproxy.tools``; ``faults proxy`` runs mitmdump), not a
    test's master (``mitmproxy.test.taddons``) or an embedding."""
    master = getattr(ctx, "master", None)
    return type(master).__module__.startswith("mitmproxy.tools.")


def dispatch_table(children) -> dict:
    """Hook name -> one callable that calls the children's hooks of that name
    in order, as mitmproxy would: each awaited before the next is called. Hook
    classes register when their modules load, which a running master has done.
    A child's ``idle_hooks()`` names hooks that do nothing under its current options
    (the control endpoint off, no Alt-Svc option): they are left out, so an exchange
    does not pay for calling them."""
    table = {}
    idle = {id(c): c.idle_hooks() for c in children if hasattr(c, "idle_hooks")}
    for name in hooks.all_hooks:
        methods = [m for c in children
                   if callable(m := getattr(c, name, None)) and name not in idle.get(id(c), ())]
        if methods:
            table[name] = methods[0] if len(methods) == 1 else _chain(methods)
    return table


def _then(hook, after):
    """``hook`` (sync, may be None), then ``after()``."""
    def call(*args):
        if hook is not None:
            hook(*args)
        after()
    return call


def _chain(methods):
    def call(*args):
        for i, method in enumerate(methods):
            res = method(*args)
            if res is not None and inspect.isawaitable(res):
                return _rest(res, methods[i + 1:], args)
        return None
    return call


async def _rest(pending, methods, args):
    await pending
    for method in methods:
        res = method(*args)
        if res is not None and inspect.isawaitable(res):
            await res
