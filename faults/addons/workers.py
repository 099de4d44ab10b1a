"""This mitmdump as one of ``faults proxy --workers N`` (``faults.tools.workers``).

Options: ``fault_worker`` (this worker's id, ``""`` = a lone proxy; also usable
alone, e.g. one proxy per load generator: it labels the report records and
derives the rule seeds) and ``fault_worker_dir`` (set by the supervisor: the
directory the workers share). With a directory, at ``running``:

- it opens the shared listener (``faults.wire.listen``; mitmproxy's own is off,
  ``server=false``): worker 0 binds first and writes the port to ``listen``,
  the others bind the same port;
- it serves the fan-out socket (``faults.fanout``) for control changes;
- global gates count in ``counter.json`` (``faults.counter``);
- the run's t0 is the one in ``t0`` (``faults.gates``): the first worker to see a request writes it;
- it writes ``ready-<id>``: the supervisor waits for every worker's.

Every flow gets ``flow.metadata["fault_worker"]``. The first child of
``FaultAddon``: it is configured before the injector builds rules, so their
seeds are this worker's.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from mitmproxy import ctx, exceptions

from faults import fanout, gates, vocabulary as V, worker
from faults.addons import succession
from faults.counter import SharedCounter
from faults.wire import servers

log = logging.getLogger(__name__)
METADATA_KEY = V.WORKER
ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class Workers:
    name = "faultworkers"

    def __init__(self):
        self.server = None
        self.control = None
        self._apply_change = None  # FaultControl.apply_change: siblings' runtime changes apply here
        self._started = False
        self._set: tuple | None = None
        self._adopted = False  # a script reload's addon: it serves on the old one's sockets (load)

    def load(self, loader):
        self._take_over()
        loader.add_option("fault_worker", str, "",
                          "This proxy's worker id, carried by every report record ('worker') and "
                          "flow.metadata['fault_worker'], and part of every rule's seed. Empty: a lone proxy. "
                          "Set by faults proxy --workers N (0 .. N-1).")
        loader.add_option("fault_worker_dir", str, "",
                          "Set by faults proxy --workers N: the directory its workers share (listening port, "
                          "control fan-out sockets, global gate counter). Not for use by hand.")

    def configure(self, updated):
        if not ({"fault_worker", "fault_worker_dir"} & updated):
            return
        if self._started:
            raise exceptions.OptionsError("fault_worker and fault_worker_dir are set at start only")
        wid, wdir = ctx.options.fault_worker, ctx.options.fault_worker_dir
        try:
            if wid and not ID_RE.match(wid):
                raise ValueError(f"fault_worker={wid!r}: expected 1 to 64 of A-Z a-z 0-9 _ . -")
            if wdir and not wid:
                raise ValueError("fault_worker_dir needs fault_worker (both are set by faults proxy --workers N)")
            if wdir and not Path(wdir).is_dir():
                raise ValueError(f"fault_worker_dir={wdir!r}: not a directory")
            if wdir and ctx.options.server:
                raise ValueError("fault_worker_dir needs --set server=false (the workers' listener is shared "
                                 "by faults.wire.listen; faults proxy --workers N sets both)")
        except ValueError as e:
            log.error(f"faults: {e}")  # at start: one line, mitmdump exits 1
            return
        if (wid, wdir) != self._set:  # configure runs more than once at start: one counter file handle
            self._set = (wid, wdir)
            worker.set_current(wid, SharedCounter(Path(wdir) / "counter.json") if wdir else None)
            gates.clock.share(wdir or None)  # one t0 for every worker (faults.gates)
        # a per-flow hook only when there is a worker id: a lone proxy pays nothing
        if wid:
            self.requestheaders = self._mark
        elif "requestheaders" in self.__dict__:
            del self.requestheaders

    def _take_over(self) -> None:
        """A script reload keeps this worker's sockets: closing the shared listener would reset
        the connections waiting in its accept queue, and a sibling's change sent while the
        fan-out socket is closed would fail. The kept fan-out socket calls the old addon: its
        changes go on to this one's control."""
        old = succession.take_over(self)
        if old is None or not old._started:
            return
        self.server, self.control, self._set = old.server, old.control, old._set
        old._apply_change = lambda msg: self._apply_change(msg)
        self._adopted = True

    def _mark(self, flow):
        flow.metadata[METADATA_KEY] = worker.current()

    async def running(self):
        if self._started:
            return
        self._started = True
        if self._adopted:
            return
        wdir = ctx.options.fault_worker_dir
        if not wdir:
            return
        from faults.wire import listen

        wid = worker.current()
        shared = Path(wdir) / "listen"
        try:
            mode, host, port = listen.shared_mode()
            if shared.exists():  # a sibling bound first: the same port
                port = int(shared.read_text().split()[-1])
            sock = listen.reuseport_socket(host, port)
        except (ValueError, OSError) as e:
            log.error(f"faults: worker {wid}: cannot listen: {e}")
            return
        bound = sock.getsockname()
        if not shared.exists():
            tmp = shared.with_name(f".listen-{wid}")
            tmp.write_text(f"{host or '*'} {bound[1]}\n")
            os.replace(tmp, shared)
        self.server = await listen.serve(mode, sock)
        shown = host or "*"
        log.info(f"{mode.description} (worker {wid}) listening at {shown}:{bound[1]}.")
        if self._apply_change is not None:  # runtime changes from siblings apply here
            self.control = await fanout.serve(wdir, wid, lambda msg: self._apply_change(msg))
        (Path(wdir) / f"ready-{wid}").write_text(f"{os.getpid()} {bound[1]}\n")

    def changes_to(self, apply_change) -> None:
        """Where a sibling's control change is applied (``FaultAddon`` wires it)."""
        self._apply_change = apply_change

    async def broadcast(self, message: dict) -> list[str]:
        """Send a control change to every sibling worker; [] when alone or all applied it."""
        wdir = ctx.options.fault_worker_dir
        if not wdir or self.control is None:
            return []
        return await fanout.broadcast(wdir, worker.current(), message)

    async def done(self):
        if not servers.exiting():  # a script reload: the new addon serves on (load)
            return
        for srv in (self.server, self.control):
            if srv is not None:
                srv.close()
        self.server = self.control = None
