"""The classifier addon: annotate every finished flow, faulted or not (what a
sibling's fault did to a flow: ``faults.wire.collateral``; the error object:
``faults.classify.annotation``).

For each flow, once, when its outcome is known (``response`` or ``error``):
``flow.metadata`` gets the k6 code and message, ``flow.comment`` a one-line
summary (shown in mitmweb and the console), faulted flows get a marker, and
the ``fault_report`` file (if set) one JSON object.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence  # typing.Sequence: mitmproxy cannot parse --set for it
from typing import Optional

from mitmproxy import addonmanager, ctx, exceptions, hooks, http

from faults import vocabulary as V
from faults.classify import Classification, classify_websocket, clients as profiles
from faults.classify.annotation import annotation
from faults.classify.http import outcome_of, plain_response_key
from faults.classify.outcome import Outcome
from faults.memo import remember
from faults.addons.headers import is_connect
from faults.addons.startup import one_line_at_start
from faults.report import Report, cannot_open, flow_record, websocket_record
from faults.wire import actions, ends, h2layer, h3layer
from faults.wire.collateral import collateral

log = logging.getLogger(__name__)
FAULT_KEY = V.FAULT
MARKER = ":boom:"
SWEEP_AFTER = 1.0  # s after a faulted connection closed: finish flows mitmproxy left open on it
MEMO_MAX = 1024  # distinct outcomes remembered (cleared when full)


def _faulted(flow, fault: dict | None, comment: str) -> str:
    """A faulted flow's comment names its fault and rule first, and the flow gets the marker."""
    if not fault:
        return comment
    flow.marked = MARKER
    return f"fault: {fault['spec']} [{fault['rule']}] -> {comment}"


def shown_by(classifier) -> tuple[str, ...]:
    """The client profiles ``fault_clients`` shows, as ``classifier`` (the addons that write
    their own records: TLS, DNS, datagrams) read it; every profile without one."""
    return getattr(classifier, "shown", profiles.NAMES)


class Classifier:
    name = "classifier"

    def __init__(self):
        self.report: Report | None = None
        self._conn_seq: Counter = Counter()
        self._open: dict[str, http.HTTPFlow] = {}
        self._finished: set[str] = set()
        self._unwritten: set[str] = set()  # HTTP/2 flows whose response is not handed to the client yet
        self.listeners: list = []  # called with each flow once it is annotated (FaultStatus counts it)
        self.record_listeners: list = []  # called with each report record, file or not (the control's /expect)
        self.codes: Counter = Counter()
        self._memo: dict = {}  # outcome key -> (client reports, metadata dicts, outcome, comment): see _lookup
        self._quick: dict = {}  # the same, by faults.classify.http.plain_response_key (no outcome built)
        # the profiles the record, metadata and comment show (option fault_clients). Every
        # profile is still computed: the annotation needs k6's report and grpcio's status.
        self.shown: tuple[str, ...] = profiles.NAMES
        self.metrics = None  # faults.metrics.Metrics while option fault_metrics is on

    def set_metrics(self, metrics) -> None:
        """``FaultMetrics`` attaches its ``faults.metrics.Metrics`` (None: off)."""
        self.metrics = metrics

    def load(self, loader):
        loader.add_option(
            "fault_report", Optional[str], None,
            "Append one JSON object per finished flow to this file (JSONL): url, method, "
            "http_version, rule, fault, k6_error_code and the full annotation.",
        )

        loader.add_option(
            "fault_clients", Sequence[str], list(profiles.NAMES),
            "Client profiles whose report each flow's metadata and report record carry (default: all); "
            "a selection also puts the chosen profiles' errors in the flow comment.",
        )

    @one_line_at_start
    def configure(self, updated):
        if "fault_clients" in updated:
            try:
                self.shown = profiles.choose(ctx.options.fault_clients)
                self._quick = {}  # keyed without the profiles shown (hashing them per flow cost more)
            except ValueError as e:
                raise exceptions.OptionsError(f"fault_clients: {e}") from None
        if "fault_report" in updated:
            if self.report:
                self.report.close()
                self.report = None
            if ctx.options.fault_report:
                try:
                    self.report = Report(ctx.options.fault_report)
                except OSError as e:
                    raise exceptions.OptionsError(f"fault_report={ctx.options.fault_report}: cannot write a report "
                                                  f"there: {cannot_open(e)}") from None

    def requestheaders(self, flow: http.HTTPFlow):
        if is_connect(flow):
            return
        cid = flow.client_conn.id
        seq = self._conn_seq[cid]
        self._conn_seq[cid] = seq + 1
        flow.metadata[V.CONN_SEQ] = seq
        self._open[flow.id] = flow

    def running(self):
        self._started = True

    def response(self, flow: http.HTTPFlow):
        if _session(flow):
            return  # a WebSocket session: one record when it ends (websocket_end)
        if flow.error is None and self._h2_pending(flow):
            # On HTTP/2 the response is written after this hook, and a sibling's fault may
            # end the connection in between: classify once the HTTP/2 layer has it.
            self._unwritten.add(flow.id)
            return
        self.finish(flow)

    def websocket_end(self, flow: http.HTTPFlow):
        self.finish(flow)

    def error(self, flow: http.HTTPFlow):
        if _session(flow):
            return  # mitmproxy ends the session next (websocket_end)
        action = actions.H2.of(flow)
        if action is not None and not action.fired and action.h2_frame != "hold" and self._h2_pending(flow):
            # killed for its frames, which the HTTP/2 layer sends next (or drops,
            # when a sibling's fault already ends the connection)
            self._unwritten.add(flow.id)
            return
        self.finish(flow)

    @staticmethod
    def _h2_pending(flow) -> bool:
        version = flow.request.data.http_version  # bytes: the property decodes on every read
        if version == b"HTTP/3":  # once the HTTP/3 layer wrote it (or the client closed first)
            server = h3layer.server_of(flow)
            return server is not None and not server.gone
        return version == b"HTTP/2.0" and h2layer.server_of(flow) is not None

    def written(self, flow: http.HTTPFlow) -> None:
        if flow.id in self._unwritten:
            self._unwritten.discard(flow.id)
            self.finish(flow)
            try:  # annotated outside a hook: tell mitmweb and the console
                manager = ctx.master.addons
                if _update_listened(manager):  # mitmdump has none: spare the ~60 us walk per flow
                    manager.trigger(hooks.UpdateHook([flow]))
            except Exception:  # no master (unit tests)
                pass

    def client_disconnected(self, client):
        self._conn_seq.pop(client.id, None)
        if ends.of(client.id) is not None:
            # A fault ended this connection. mitmproxy ends the flows still open on it
            # with an error, but a stream that raced the end can stay open until
            # shutdown; after a grace period, finish those here (each is collateral).
            try:
                asyncio.get_running_loop().call_later(SWEEP_AFTER, self._sweep, client.id)
            except RuntimeError:  # no running loop (unit tests)
                pass

    def _sweep(self, client_id: str) -> None:
        for flow in [f for f in self._open.values() if f.client_conn.id == client_id]:
            if flow.error is None and flow.killable:
                flow.kill()  # stop the upstream side too
            self.finish(flow)

    def done(self):
        for flow in list(self._open.values()):
            if flow.id not in self._unwritten:  # those have their whole response
                flow.metadata.setdefault(V.WIRE, {})["released_at_shutdown"] = True
            self.finish(flow)
        if self.report:
            self.report.close()
            self.report = None

    def connection_record(self, rec: dict) -> None:
        """A record for an outcome with no HTTP flow (e.g. a failed TLS handshake)."""
        self.codes[rec.get("k6_error_code")] += 1
        if self.metrics is not None:
            self.metrics.record(rec)
        self._emit(lambda: rec)

    def _emit(self, make) -> None:
        """Build the record only when someone reads it: the report file, record listeners."""
        if self.report is None and not self.record_listeners:
            return
        rec = make()
        if self.report:
            self.report.write(rec)
        for listener in self.record_listeners:
            listener(rec)

    def finish(self, flow: http.HTTPFlow) -> None:
        if is_connect(flow) or flow.id in self._finished:
            return
        if flow.metadata.get(V.CONTROL):  # the control endpoint's own requests are not traffic
            self._open.pop(flow.id, None)
            return
        self._finished.add(flow.id)
        self._open.pop(flow.id, None)
        self._unwritten.discard(flow.id)
        if len(self._finished) > 100_000:  # bounded memory on long runs
            self._finished.clear()
        if _session(flow):
            return self._finish_session(flow)
        collateral(flow)
        hit, o = self._lookup(flow)
        clients, shared = hit[0], hit[1]
        k6 = clients["k6"]
        fault = flow.metadata.get(FAULT_KEY)
        md = flow.metadata
        md[V.K6_CODE] = k6.error
        md[V.K6_ERROR] = k6.message
        # computed once per outcome and shared by its flows, not copied per flow (issue 22: the
        # copies were a sixth of the classifier's cost per flow); read-only (docs/annotations.md)
        md[V.K6], md[V.OUTCOME], md[V.CLIENTS], md[V.ANNOTATION] = shared
        code = k6.error if k6.error is not None else "h3"  # HTTP/3: k6 has no HTTP/3 client
        self.codes[code] += 1
        if self.metrics is not None:
            self.metrics.finished(flow.id, code, fault, shared[2])
        said = hit[3]  # the comment, but for the fault's part: the same for every flow of this hit
        if not said:
            said.extend(self._comment(clients, shared[3]["id"], hit[2].summary))
        flow.comment = _faulted(flow, fault, said[0]) + said[1]
        read = self.report is not None or self.record_listeners  # no closure per flow when none reads it
        self._done(flow, read and (lambda: flow_record(flow, self._classification(hit, o), fault, md[V.ANNOTATION])))

    def _comment(self, clients: dict, annotation_id: str, summary: str) -> tuple[str, str]:
        """The flow comment's (head, tail), the fault's part left out (``_faulted`` adds it)."""
        k6 = clients["k6"]
        if k6.error is None:  # say what the HTTP/3 clients report
            said = " | ".join(f"{n} {r.error}" + (f" ({r.message})" if r.message else "")
                              for n, r in clients.items() if n != "k6")
            head = f"HTTP/3 {annotation_id}: {said or summary}"
        else:
            head = f"k6 {k6.error} {annotation_id}" + (f" ({k6.message})" if k6.message else "")
        tail = ""
        if k6.retried:
            tail += " [k6 retries: hidden]"
        if self.shown != profiles.NAMES:  # the user picked their clients: name what each reports
            for name in self.shown:
                r = clients.get(name)
                if name != "k6" and r is not None:
                    tail += f" | {name} {r.error}" + (f" (re-sent {r.resent()}x)" if r.retried else "")
        if k6.certainty not in ("exact", "n/a"):
            tail += f" [{k6.certainty}]"
        return head, tail

    def _classified(self, flow: http.HTTPFlow) -> tuple[Classification, tuple]:
        """The flow's classification and its metadata dicts (k6, outcome, clients, annotation)."""
        hit, o = self._lookup(flow)
        return self._classification(hit, o), hit[1]

    def _classification(self, hit: tuple, o: Outcome | None) -> Classification:
        """The flow's ``Classification``: built when read (the report record), not per flow.
        A shortcut hit has no outcome of its own: each flow gets a copy (the record holds its facts)."""
        if o is None:
            o = _copy(hit[2])
        return Classification(o, hit[0], self.shown)

    def _lookup(self, flow: http.HTTPFlow) -> tuple[tuple, Outcome | None]:
        """The flow's remembered computation (client reports, metadata dicts (k6, outcome,
        clients, annotation), outcome, the comment once said) and its own outcome (None
        when the shortcut found it without building one). The client profiles are pure
        functions of the outcome, so flows with the same outcome (most unfaulted traffic:
        a complete 200 on a reused connection) share one computation, remembered by
        outcome; the commonest of those are found by a key read off the flow, before any
        outcome is built (``plain_response_key``)."""
        quick = plain_response_key(flow)  # the commonest flows: known without building the outcome
        if quick is not None:
            hit = self._quick.get(quick)
            if hit is not None:
                return hit, None
        o = outcome_of(flow)
        key = _outcome_key(o, flow, self.shown)
        hit = self._memo.get(key) if key is not None else None
        if hit is None:
            c = Classification(o, profiles.report_all(o), self.shown)
            hit = (c.clients, (c.k6.as_dict(), o.as_dict(), c.clients_dict(), annotation(flow, c)),
                   _copy(o), [])
            if key is not None:
                remember(self._memo, key, hit, MEMO_MAX)
        if quick is not None:
            remember(self._quick, quick, hit, MEMO_MAX)
        return hit, o

    def _finish_session(self, flow: http.HTTPFlow) -> None:
        c = classify_websocket(flow)
        k6, fault, md = c.k6, flow.metadata.get(FAULT_KEY), flow.metadata
        md[V.K6_CODE] = None  # k6 sets no error_code for a WebSocket session
        md[V.K6_ERROR] = k6.message
        md[V.K6] = k6.as_dict()
        md[V.OUTCOME] = c.outcome.as_dict()
        md[V.CLIENTS] = c.clients_dict()
        flow.comment = _faulted(flow, fault, f"websocket: {c.outcome.summary} -> k6 close "
                                             f"{k6.extra.get('close_code')}" + (f" ({k6.message})" if k6.message else ""))
        self.codes["ws"] += 1
        if self.metrics is not None:
            self.metrics.finished(flow.id, "ws", fault, md[V.CLIENTS])
        self._done(flow, lambda: websocket_record(flow, c, fault))

    def _done(self, flow, record) -> None:
        """Write the flow's record (built only if a report or listener reads it) and tell the listeners."""
        self._emit(record)
        for listener in self.listeners:
            listener(flow)


def _outcome_key(o, flow, shown) -> tuple | None:
    """What the profiles and the annotation read: the outcome (event, entry,
    summary, facts), the status sent and the profiles shown; None when a fact
    is not hashable (then nothing is remembered)."""
    try:
        key = (o.event, o.entry, o.summary, tuple(o.facts.items()),
               flow.response.status_code if flow.response is not None else None, shown)
        hash(key)
    except TypeError:
        return None
    return key


_listened: list = [None, True]  # (the addons registered, by identity), whether one has an ``update`` hook


def _update_listened(manager) -> bool:
    """Whether any loaded addon has an ``update`` hook (mitmweb's and the console's
    view do; plain mitmdump's addons do not). Looked up again whenever an addon
    is added, removed or reloaded (every one is in ``lookup``, by name)."""
    seen = (id(manager.chain), *map(id, manager.lookup.values()))
    if _listened[0] != seen:
        _listened[:] = [seen, any(callable(getattr(a, "update", None)) for a in addonmanager.traverse(manager.chain))]
    return _listened[1]


def _copy(o: Outcome) -> Outcome:
    """An outcome of its own (its facts a copy): a remembered one is never handed out."""
    return Outcome(o.event, o.entry, o.summary, dict(o.facts))


def _session(flow) -> bool:
    """A WebSocket session (an upgrade answered 101); a refused upgrade is a plain flow."""
    return flow.websocket is not None and flow.response is not None and flow.response.status_code == 101
