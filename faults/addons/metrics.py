"""Option ``fault_metrics=HOST:PORT``: Prometheus text at ``http://HOST:PORT/metrics``
(``faults.metrics`` says what is counted).

Off by default, and then it costs nothing: the classifier and the injector call
``Metrics`` only while it is attached to them (one ``is not None`` per record and
per chosen fault). With ``faults proxy --workers N`` every worker counts into the
workers' shared directory and worker 0 alone serves the sum.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from mitmproxy import ctx, exceptions

from faults import worker
from faults.addons import succession
from faults.metrics import Metrics, parse_address
from faults.wire import servers

log = logging.getLogger(__name__)


class FaultMetrics:
    name = "faultmetrics"

    def __init__(self, classifier, injector):
        self.classifier = classifier
        self.injector = injector
        self.metrics: Metrics | None = None
        self.server = None
        self._started = False
        self._kept = None  # a script reload's addon: the option value the kept server serves (load)

    def load(self, loader):
        self._take_over()
        loader.add_option(
            "fault_metrics", Optional[str], None,
            "Serve Prometheus metrics at http://HOST:PORT/metrics (e.g. 127.0.0.1:9464; port 0: any free "
            "port, logged): faults_flows_total{k6_code}, faults_injected_total{rule,kind}, "
            "faults_client_errors_total{client,error}, faults_active{rule}. Off by default.",
        )

    def _take_over(self) -> None:
        """A script reload keeps the counts and the server (the same port, also one asked as
        port 0; re-bound, a fixed port could still be the old server's)."""
        old = succession.take_over(self)
        if old is not None and old._started:
            self.metrics, self.server = old.metrics, old.server
            self._kept = ctx.options.fault_metrics

    def configure(self, updated):
        if "fault_metrics" not in updated:
            return
        if self._kept is not None:  # the reload's first configure: serving already
            kept, self._kept = self._kept, None
            if ctx.options.fault_metrics == kept:
                self._attach(self.metrics)
                return
        try:
            self._configure()
        except exceptions.OptionsError as e:
            if self._started:
                raise  # a runtime --set: mitmproxy refuses the change and says why
            log.error(f"faults: {e}")  # at start: one line, mitmdump exits 1

    def _configure(self):
        self._stop()
        value = ctx.options.fault_metrics
        if not value:
            self._attach(None)
            return
        try:
            host, port = parse_address(value)
        except ValueError as e:
            raise exceptions.OptionsError(f"fault_metrics: {e}") from None
        wdir = getattr(ctx.options, "fault_worker_dir", "")  # faults.addons.workers' option
        if self.metrics is None:
            shared = None
            if wdir:
                shared = Path(wdir) / "metrics"
                shared.mkdir(exist_ok=True)
            self.metrics = Metrics(str(shared) if shared else None)
        if not wdir or worker.current() == "0":  # one worker serves what every worker counted
            try:
                self.server = self.metrics.serve(host, port)
            except OSError as e:
                raise exceptions.OptionsError(f"fault_metrics={value}: cannot listen: {e.strerror or e}") from None
            bound = self.server.server_address
            shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
            log.info(f"faults: metrics at http://{shown}:{bound[1]}/metrics")
        self._attach(self.metrics)

    def _attach(self, metrics: Metrics | None) -> None:
        if metrics is None and self.metrics is not None:
            self.metrics.forget_live()  # flows under a fault now end uncounted: the gauge says 0
        self.classifier.set_metrics(metrics)
        self.injector.set_metrics(metrics)

    def running(self):
        self._started = True

    def _stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def done(self):
        if not servers.exiting():  # a script reload: the new addon serves on (load)
            return
        self._stop()
