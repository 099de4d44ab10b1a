"""The unfaulted path's shortcuts give the same answers as the long way."""

from mitmproxy.test import taddons, tflow

from faults import vocabulary as V
from faults.addons import FaultAddon
from faults.addons.annotate import annotation
from faults.addons.headers import names
from faults.classify import classify


def _classifier(fa):
    return next(a for a in fa.addons if type(a).__name__ == "Classifier")


def test_remembered_outcome_gives_the_same_metadata_as_classifying_alone():
    fa = FaultAddon()
    with taddons.context(*fa.addons):
        cl = _classifier(fa)
        flows = [tflow.tflow(resp=True) for _ in range(3)]
        for f in flows:
            cl.finish(f)
        assert len(cl._memo) == 1  # three flows, one outcome computed
        for f in flows:
            c = classify(f)
            assert f.metadata[V.K6] == c.k6.as_dict()
            assert f.metadata[V.OUTCOME] == c.outcome.as_dict()
            assert f.metadata[V.CLIENTS] == c.clients_dict()
            assert f.metadata[V.ANNOTATION] == annotation(f, c)
        # built once per outcome: flows with one outcome share the dicts (read-only,
        # docs/annotations.md); a flow's copy (mitmproxy's ``flow.copy``) owns its own
        for key in (V.K6, V.OUTCOME, V.CLIENTS, V.ANNOTATION):
            assert flows[0].metadata[key] is flows[1].metadata[key] is flows[2].metadata[key]
        copy = flows[0].copy()
        copy.metadata[V.CLIENTS]["k6"]["error"] = "changed"
        assert flows[1].metadata[V.CLIENTS]["k6"]["error"] == 0


def test_a_different_status_is_a_different_outcome():
    fa = FaultAddon()
    with taddons.context(*fa.addons):
        cl = _classifier(fa)
        ok, bad = tflow.tflow(resp=True), tflow.tflow(resp=True)
        bad.response.status_code = 503
        cl.finish(ok)
        cl.finish(bad)
        assert (ok.metadata[V.K6_CODE], bad.metadata[V.K6_CODE]) == (0, 1503)
        assert len(cl._memo) == 2


def test_header_names_follow_changes():
    f = tflow.tflow()
    assert b"x-fault" not in names(f.request.headers)
    f.request.headers["X-Fault"] = "status code=503"
    assert b"x-fault" in names(f.request.headers)
    del f.request.headers["x-fault"]
    assert b"x-fault" not in names(f.request.headers)


def test_shortcut_gives_each_flow_its_own_outcome_and_the_same_record():
    from faults.report import flow_record
    fa = FaultAddon()
    with taddons.context(*fa.addons):
        cl = _classifier(fa)
        flows = [tflow.tflow(resp=True) for _ in range(3)]
        seen = []
        cl.record_listeners.append(seen.append)
        for f in flows:
            cl.finish(f)
        assert len(cl._quick) == 1  # the 2nd and 3rd flow took the shortcut
        for f, rec in zip(flows, seen):
            alone = flow_record(f, classify(f), None, annotation(f, classify(f)))
            assert {k: v for k, v in rec.items() if k not in ("ts", "duration_ms")} == \
                {k: v for k, v in alone.items() if k not in ("ts", "duration_ms")}
        seen[1]["facts"]["status"] = -1  # a reader changing one record leaves the others alone
        assert seen[2]["facts"]["status"] == 200


def test_a_flow_annotated_after_its_hooks_is_announced_only_when_an_addon_listens():
    from faults.addons import annotate

    class Listener:
        def __init__(self):
            self.got = []

        def update(self, flows):
            self.got.extend(flows)

    fa = FaultAddon()
    with taddons.context(*fa.addons) as tctx:
        assert not annotate._update_listened(tctx.master.addons)  # nothing to tell: no update hook walked
        listener = Listener()
        tctx.master.addons.add(listener)
        assert annotate._update_listened(tctx.master.addons)
        cl = _classifier(fa)
        f = tflow.tflow(resp=True)
        cl._unwritten.add(f.id)  # an HTTP/2 response the layer wrote after the hooks
        cl.written(f)
        assert listener.got == [f] and f.metadata[V.K6_CODE] == 0
        tctx.master.addons.remove(listener)
        assert not annotate._update_listened(tctx.master.addons)


def _comment_alone(f, **options):
    """The comment a fresh classifier (nothing remembered) gives ``f``."""
    fa = FaultAddon()
    with taddons.context(*fa.addons) as tctx:
        if options:
            tctx.options.update(**options)
        _classifier(fa).finish(f)
    return f.comment, f.marked


def test_remembered_comment_is_the_one_said_alone():
    fault = {"rule": "r1", "spec": "status code=503", "kind": "status"}
    for options in ({}, {"fault_clients": ["k6", "curl"]}):
        fa = FaultAddon()
        with taddons.context(*fa.addons) as tctx:
            if options:
                tctx.options.update(**options)
            cl = _classifier(fa)
            flows = [tflow.tflow(resp=True) for _ in range(3)]
            flows[1].metadata[V.FAULT] = dict(fault)  # the same outcome, a faulted flow: its prefix, its marker
            bad = tflow.tflow(resp=True)
            bad.response.status_code = 503
            flows.append(bad)
            for f in flows:
                cl.finish(f)
            said = [(f.comment, f.marked) for f in flows]
        for f, (comment, marked) in zip(flows, said):
            g = tflow.tflow(resp=True)
            g.response.status_code = f.response.status_code
            if V.FAULT in f.metadata:
                g.metadata[V.FAULT] = dict(fault)
            assert (comment, marked) == _comment_alone(g, **options)
        assert said[1][0].startswith("fault: status code=503 [r1] -> k6 ") and said[1][1]
        assert not said[0][1] and said[0][0] == said[2][0]
