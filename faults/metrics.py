"""Live Prometheus metrics (option ``fault_metrics``, ``faults.addons.metrics``).

- ``faults_flows_total{k6_code}``: every record the report has (or would have):
  its k6 code as text (``faults.classify.fields.k6_code_label``: ``ws`` for a WebSocket
  session, ``none`` where nothing is known);
- ``faults_injected_total{rule,kind}``: records whose flow (or TLS handshake, DNS
  query) a rule's fault was applied to;
- ``faults_client_errors_total{client,error}``: for each client profile, the
  records where it predicts an error (``faults.classify.fields.client_errors``);
- ``faults_active{rule}``: flows under a rule's fault now, from the moment the
  rule is chosen until the flow's record is made.

Counting is on the hot path: each call is a few dict lookups and increments of
label children cached here (``labels()`` itself takes a lock and builds a key).

With several workers (``faults proxy --workers N``) every worker writes its
counts to files in a directory they share (prometheus_client's multiprocess
mode) and the one that serves ``/metrics`` sums them, so a scrape sees the whole
proxy whichever worker counted.
"""

from __future__ import annotations

import glob
import os

from faults import numbers
from faults.memo import remember
from faults.classify.fields import client_errors, code_text
from faults.errors import SpecError
from faults.spec import kind_of

MEMO_MAX = 1024  # clients dicts remembered (cleared when full), as the classifier's memo


class Metrics:
    def __init__(self, multiprocess_dir: str | None = None):
        if multiprocess_dir:
            # prometheus_client picks its value class (in memory or per-process mmap files)
            # from this variable; set before any metric exists in this process
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = multiprocess_dir
        import prometheus_client as pc
        from prometheus_client import values

        self.multiprocess_dir = multiprocess_dir
        pc.disable_created_metrics()  # no *_created series: they double the text and no dashboard reads them
        self.registry = pc.CollectorRegistry()
        own = self.registry
        if multiprocess_dir:
            values.ValueClass = values.MultiProcessValue()  # even if prometheus_client was imported before
            self.registry.register(_WrittenFiles(multiprocess_dir))
            own = None  # the files are the truth: registering here too would count twice
        self.flows = pc.Counter("faults_flows", "Finished flows (report records) by the k6 error code "
                                "k6 reports for them ('ws': a WebSocket session; 'none': unknown).",
                                ["k6_code"], registry=own)
        self.injected = pc.Counter("faults_injected", "Flows (and TLS handshakes, DNS queries) a fault was "
                                   "applied to, by rule and fault kind.", ["rule", "kind"], registry=own)
        self.client_errors = pc.Counter("faults_client_errors", "Finished flows for which a client profile "
                                        "predicts an error, by client and its error.", ["client", "error"],
                                        registry=own)
        self.active = pc.Gauge("faults_active", "Flows under a rule's fault now.", ["rule"], registry=own,
                               multiprocess_mode="livesum")
        self._codes: dict = {}
        self._faults: dict = {}
        self._errors: dict = {}
        self._rules: dict = {}
        self._live: dict = {}  # flow id -> its faults_active child, until the flow's record is made
        self._pairs: dict = {}  # id(clients dict) -> (that dict, its error counters): see _client_counters

    # -- the hot path ------------------------------------------------------------------
    def started(self, flow_id: str, rule: str) -> None:
        """A rule's fault was chosen for this flow."""
        g = self._rules.get(rule)
        if g is None:
            g = self._rules[rule] = self.active.labels(rule=rule)
        g.inc()
        self._live[flow_id] = g

    def finished(self, flow_id: str | None, code, fault: dict | None, clients: dict | None) -> None:
        """A flow's record was made: ``code`` its k6 code (``"ws"`` for a WebSocket
        session), ``fault`` its ``{rule, spec}``, ``clients`` its client reports."""
        g = self._live.pop(flow_id, None)
        if g is not None:
            g.dec()
        c = self._codes.get(code)
        if c is None:
            c = self._codes[code] = self.flows.labels(k6_code=code_text(code))
        c.inc()
        if fault:
            self._injected(fault.get("rule"), fault.get("spec"))
        for c in self._client_counters(clients):
            c.inc()

    def _client_counters(self, clients: dict | None) -> tuple:
        """The error counters of a ``clients`` dict. The classifier hands flows with the same
        outcome the same dict (its memo), so most flows cost one lookup here; the dict is
        kept with its counters, so its id cannot be reused while remembered."""
        if not clients:
            return ()
        hit = self._pairs.get(id(clients))
        if hit is not None and hit[0] is clients:
            return hit[1]
        counters = []
        for pair in client_errors(clients):
            c = self._errors.get(pair)
            if c is None:
                c = self._errors[pair] = self.client_errors.labels(client=pair[0], error=pair[1])
            counters.append(c)
        return remember(self._pairs, id(clients), (clients, tuple(counters)), MEMO_MAX)[1]

    def forget_live(self) -> None:
        """Detached (the option turned off): flows under a fault now will not be finished here."""
        for g in self._live.values():
            g.dec()
        self._live.clear()

    def record(self, rec: dict) -> None:
        """A record with no HTTP flow: a TLS handshake, a DNS query, a raw TCP connection."""
        fault = {"rule": rec.get("rule"), "spec": rec.get("fault")} if rec.get("rule") else None
        self.finished(None, rec.get("k6_error_code"), fault, rec.get("clients"))

    def _injected(self, rule, spec) -> None:
        key = (rule, spec)
        c = self._faults.get(key)
        if c is None:
            c = self._faults[key] = self.injected.labels(rule=str(rule), kind=kind_of(spec or ""))
        c.inc()

    # -- serving -----------------------------------------------------------------------
    def serve(self, host: str, port: int):
        """Serve ``/metrics`` from a thread (a scrape never waits for the proxy's event
        loop, nor the loop for a scrape); returns the server (``server_address``, ``shutdown``)."""
        from prometheus_client import start_http_server

        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        return server

    def text(self) -> str:
        from prometheus_client import generate_latest

        return generate_latest(self.registry).decode()


class _WrittenFiles:
    """The collector of ``--workers``' value files, less any a worker is creating right now:
    prometheus_client opens a new file, then sizes it, then writes its header, and its own
    collector failed on a file read between those steps (struct.error: /metrics answered 500
    under load). Such a file holds no value yet, so leaving it out loses nothing."""

    def __init__(self, path: str):
        self.path = path

    def collect(self):
        from prometheus_client.multiprocess import MultiProcessCollector

        files = []
        for f in glob.glob(os.path.join(self.path, "*.db")):
            try:
                if os.stat(f).st_size >= 8:  # its header: how much of the file is used
                    files.append(f)
            except FileNotFoundError:  # a dead worker's live gauge, removed since the glob
                pass
        return MultiProcessCollector.merge(files, accumulate=True)


def parse_address(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6; a bare ``PORT`` is 127.0.0.1) -> (host, port);
    ValueError naming what is wrong."""
    value = value.strip()
    if value.isascii() and value.isdigit():
        host, port = "127.0.0.1", value
    elif value.startswith("["):
        host, sep, port = value[1:].partition("]:")
        if not sep:
            raise ValueError(f"{value!r}: expected [IPV6]:PORT")
    else:
        host, sep, port = value.rpartition(":")
        if not sep or not host:
            raise ValueError(f"{value!r}: expected HOST:PORT (e.g. 127.0.0.1:9464)")
    try:
        return host, numbers.plain(port, "port", 0, 65535)
    except SpecError:
        raise ValueError(f"{numbers.shown(value)}: the port must be a number from 0 to 65535 (0: any free port; "
                         f"{numbers.RULE})") from None
