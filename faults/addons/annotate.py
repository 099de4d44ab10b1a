"""The classifier addon: annotate every finished flow, faulted or not.

For each flow, once, when its outcome is known (``response`` or ``error``):
``flow.metadata`` gets the k6 code and message, ``flow.comment`` a one-line
summary (shown in mitmweb and the console), faulted flows get a marker, and
the ``fault_report`` file (if set) one JSON object.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Optional

from mitmproxy import ctx, exceptions, http

from faults import catalog
from faults.classify.http import CONN_SEQ_KEY, classify
from faults.report import Report

log = logging.getLogger(__name__)
FAULT_KEY = "fault"
MARKER = ":boom:"


class Classifier:
    def __init__(self):
        self.report: Report | None = None
        self._conn_seq: Counter = Counter()
        self._open: dict[str, http.HTTPFlow] = {}
        self._finished: set[str] = set()
        self.codes: Counter = Counter()

    def load(self, loader):
        loader.add_option(
            "fault_report", Optional[str], None,
            "Append one JSON object per finished flow to this file (JSONL): url, method, "
            "http_version, rule, fault, k6_error_code and the full annotation.",
        )

    def configure(self, updated):
        if "fault_report" in updated:
            if self.report:
                self.report.close()
                self.report = None
            if ctx.options.fault_report:
                try:
                    self.report = Report(ctx.options.fault_report)
                except OSError as e:
                    raise exceptions.OptionsError(f"fault_report: cannot open {ctx.options.fault_report}: {e}") from e

    def requestheaders(self, flow: http.HTTPFlow):
        if flow.request.method == "CONNECT":
            return
        self._conn_seq[flow.client_conn.id] += 1
        flow.metadata[CONN_SEQ_KEY] = self._conn_seq[flow.client_conn.id] - 1
        self._open[flow.id] = flow

    def response(self, flow: http.HTTPFlow):
        self.finish(flow)

    def error(self, flow: http.HTTPFlow):
        self.finish(flow)

    def client_disconnected(self, client):
        self._conn_seq.pop(client.id, None)

    def done(self):
        for flow in list(self._open.values()):
            flow.metadata.setdefault("fault_wire", {})["released_at_shutdown"] = True
            self.finish(flow)
        if self.report:
            self.report.close()
            self.report = None

    def connection_record(self, rec: dict) -> None:
        """A record for an outcome with no HTTP flow (e.g. a failed TLS handshake)."""
        self.codes[rec.get("k6_error_code")] += 1
        if self.report:
            self.report.write({"ts": round(time.time(), 3), "record": "connection", **rec})

    def finish(self, flow: http.HTTPFlow) -> None:
        if flow.request.method == "CONNECT" or flow.id in self._finished:
            return
        if flow.metadata.get("fault_control"):  # the control endpoint's own requests are not traffic
            self._open.pop(flow.id, None)
            return
        self._finished.add(flow.id)
        self._open.pop(flow.id, None)
        if len(self._finished) > 100_000:  # bounded memory on long runs
            self._finished.clear()
        verdict = classify(flow)
        fault = flow.metadata.get(FAULT_KEY)
        flow.metadata["k6_error_code"] = verdict.k6_error_code
        flow.metadata["k6_error"] = verdict.k6_error
        flow.metadata["k6"] = verdict.as_dict()
        flow.metadata["annotation"] = annotation(flow, verdict)
        self.codes[verdict.k6_error_code] += 1
        comment = f"k6 {verdict.k6_error_code} {flow.metadata['annotation']['id']}"
        if verdict.k6_error:
            comment += f" ({verdict.k6_error})"
        if fault:
            comment = f"fault: {fault['spec']} [{fault['rule']}] -> {comment}"
            flow.marked = MARKER
        if verdict.client_retry:
            comment += " [k6 retries: hidden]"
        if verdict.certainty != "exact":
            comment += f" [{verdict.certainty}]"
        flow.comment = comment
        if self.report:
            self.report.write(record(flow, verdict))


def annotation(flow: http.HTTPFlow, verdict) -> dict:
    """The flow's error object (seed 003's shape: status, message, id, code)
    with every taxonomy's name for it, from the catalog."""
    obj = catalog.error_object(catalog.for_k6(verdict.k6_error_code, verdict.k6_error), verdict.k6_error or None)
    code = verdict.k6_error_code
    if flow.response is not None and (code == 0 or 1100 <= code - 300 < 1700):  # k6 saw the status
        obj["status"] = flow.response.status_code
    if verdict.facts.get("grpc_status"):
        obj["grpc_status"] = verdict.facts["grpc_status"]
    obj["certainty"] = verdict.certainty
    return obj


def record(flow: http.HTTPFlow, verdict) -> dict:
    fault = flow.metadata.get(FAULT_KEY) or {}
    return {
        "ts": round(time.time(), 3),
        "record": "flow",
        "flow_id": flow.id,
        "url": flow.request.pretty_url,
        "method": flow.request.method,
        "http_version": flow.request.http_version,
        "status": flow.response.status_code if flow.response else None,
        "rule": fault.get("rule"),
        "fault": fault.get("spec"),
        "k6_error_code": verdict.k6_error_code,
        "k6_error": verdict.k6_error,
        "certainty": verdict.certainty,
        "client_retry": verdict.client_retry,
        "note": verdict.note or None,
        "error": flow.error.msg if flow.error else None,
        "facts": verdict.facts,
        "annotation": flow.metadata.get("annotation"),
    }
