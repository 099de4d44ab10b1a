"""Workers (faults proxy --workers N): seeds per worker, global gates on a shared
counter under concurrent processes, the worker id in every record, one report
appended by several processes, and the command line."""

from __future__ import annotations

import json
import multiprocessing
import random

import pytest
from mitmproxy.test import taddons, tflow

from faults import plan as planmod, report, worker
from faults.addons.workers import Workers
from faults.counter import LocalCounter, SharedCounter
from faults.spec import SpecError
from faults.tools import cli, workers as supervisor

CTX = multiprocessing.get_context("fork")


@pytest.fixture(autouse=True)
def lone_process():
    worker.set_current("")
    yield
    worker.set_current("")


def rule(text: str, seed=42) -> planmod.Rule:
    return planmod.rule_from_option(text, 0, seed)


def draws(r: planmod.Rule, n: int = 40) -> list[bool]:
    return [r.select(tflow.tflow()) for _ in range(n)]


# -- seeds ---------------------------------------------------------------------------

def test_seed_text_alone_is_unchanged_and_per_worker_differs():
    assert worker.derive_seed(42, "r", "") == "42|r"  # a lone proxy draws what it always drew
    assert worker.derive_seed(42, "r", "0") == "42|worker=0|r"
    assert worker.derive_seed(42, "r", "0") != worker.derive_seed(42, "r", "1")


def test_lone_proxy_draws_exactly_as_before_workers_existed():
    r = rule("|~q|status code=503 probability=0.5")
    legacy = random.Random(f"42|{r.identity}")
    assert draws(r) == [legacy.random() < 0.5 for _ in range(40)]


def test_each_worker_draws_its_own_sequence_the_same_run_after_run():
    per_worker = {}
    for wid in ("0", "1", "0"):
        worker.set_current(wid)
        got = draws(rule("|~q|status code=503 probability=0.5"))
        assert per_worker.setdefault(wid, got) == got  # worker 0 again: the same draws
    assert per_worker["0"] != per_worker["1"]


# -- global gates -----------------------------------------------------------------------

def test_gates_key_is_validated_in_plan_and_option_forms():
    with pytest.raises(SpecError, match=r"gates='everywhere': expected one of worker, global"):
        planmod.rule_from_mapping({"fault": "status code=503", "gates": "everywhere"}, "plan.yaml: rule 1")
    with pytest.raises(SpecError, match=r"faults option entry 0 .*gates='x'"):
        rule("|~q|status code=503 first=1 gates=x")
    assert rule("|~q|status code=503 first=1 gates=global").gates == "global"
    assert planmod.rule_from_mapping({"fault": "status code=503"}, "w").gates == "worker"
    with pytest.raises(SpecError, match="chooses flows"):  # the x-fault header takes no selection keys
        planmod.rule_from_header("status code=503 gates=global")


def test_global_gates_in_one_process_count_like_worker_gates():
    worker.set_current("", LocalCounter())
    g = rule("|~q|status code=503 every=3 gates=global")
    w = rule("|~q|status code=503 every=3")
    assert draws(g, 12) == draws(w, 12)


def _count(path, n, out):
    c = SharedCounter(path)
    out.put([c.next("k") for _ in range(n)])


def test_shared_counter_never_gives_a_number_twice_under_concurrent_processes(tmp_path):
    path, out = tmp_path / "counter.json", CTX.Queue()
    procs = [CTX.Process(target=_count, args=(path, 250, out)) for _ in range(4)]
    for p in procs:
        p.start()
    got = [n for _ in procs for n in out.get(timeout=60)]
    for p in procs:
        p.join(30)
    assert sorted(got) == list(range(1, 1001))
    assert SharedCounter(path).get("k") == 1000


def _select(path, wid, spec, n, out):
    worker.set_current(wid, SharedCounter(path))
    r = rule(spec)
    out.put([(i, r.select(tflow.tflow())) for i in range(n)])


@pytest.mark.parametrize("spec, expected", [
    ("|~q|status code=503 first=1 gates=global", 1),
    ("|~q|status code=503 first=5 gates=global", 5),
    ("|~q|status code=503 every=10 gates=global", 30),
])
def test_global_gates_hold_across_concurrent_workers(tmp_path, spec, expected):
    path, out = tmp_path / "counter.json", CTX.Queue()
    procs = [CTX.Process(target=_select, args=(path, str(i), spec, 100, out)) for i in range(3)]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
    assert sum(ok for res in results for _, ok in res) == expected


def test_global_probability_draws_depend_on_the_global_count_not_the_worker(tmp_path):
    picked = []
    for wid in ("0", "1"):  # the same global sequence, whichever worker draws each number
        worker.set_current(wid, LocalCounter())
        picked.append(draws(rule("|~q|status code=503 probability=0.5 gates=global"), 30))
    assert picked[0] == picked[1] and 0 < sum(picked[0]) < 30


# -- the report ----------------------------------------------------------------------

def test_every_record_builder_carries_the_worker():
    worker.set_current("7")
    rec = report.connection_record(None, proxy="p", listen=None, upstream=None, client=None, n=1, end="rst",
                                   why=None, bytes_up=0, bytes_down=0, toxics={})
    assert list(rec)[:4] == ["v", "ts", "record", "worker"] and rec["worker"] == "7"
    assert report._base("dns")["worker"] == "7"
    worker.set_current("")
    assert report._base("flow")["worker"] == ""


def _append(path, wid, n):
    worker.set_current(wid)
    rep = report.Report(path)
    for i in range(n):
        rep.write({**report._base("flow"), "i": i, "pad": "x" * (i * 37 % 5000)})
    rep.close()


def test_workers_appending_to_one_report_leave_every_record_whole_and_once(tmp_path):
    path = tmp_path / "r.jsonl"
    procs = [CTX.Process(target=_append, args=(path, str(w), 300)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    recs = report.read(path)
    assert len(path.read_text().splitlines()) == len(recs) == 900
    assert sorted((r["worker"], r["i"]) for r in recs) == sorted((str(w), i) for w in range(3) for i in range(300))


def test_faults_report_sums_several_files(tmp_path, capsys):
    files = []
    for w, codes in (("0", [0, 1503]), ("1", [0, 0, 1220])):
        f = tmp_path / f"r{w}.jsonl"
        f.write_text("".join(json.dumps({"worker": w, "k6_error_code": c}) + "\n" for c in codes))
        files.append(str(f))
    assert cli.main(["report", *files, "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["total"] == 5
    assert {r["k6_error_code"]: r["count"] for r in out["outcomes"]} == {0: 3, 1503: 1, 1220: 1}
    assert cli.main(["report", files[0], str(tmp_path / "missing.jsonl")]) == 2


# -- command line and options ------------------------------------------------------

def test_take_workers_from_anywhere_on_the_command_line():
    assert supervisor.take_workers(["--mode", "regular", "--workers", "3", "-q"]) == (3, ["--mode", "regular", "-q"])
    assert supervisor.take_workers(["--workers=2"]) == (2, [])
    assert supervisor.take_workers(["--mode", "regular"]) == (None, ["--mode", "regular"])


@pytest.mark.parametrize("argv", [["--workers", "0"], ["--workers", "two"], ["--workers"], ["--workers=-1"],
                                  ["--workers", "1000"]])
def test_bad_workers_is_a_usage_error_naming_the_option(argv, capsys):
    with pytest.raises(supervisor.UsageError, match="--workers"):
        supervisor.take_workers(argv)
    assert cli.main(["proxy", *argv]) == 2
    assert "faults proxy: --workers" in capsys.readouterr().err


def test_workers_is_for_proxy_only(capsys):
    assert cli.main(["web", "--workers", "2"]) == 2
    assert "--workers is for faults proxy" in capsys.readouterr().err


def test_supervisor_passes_the_users_arguments_and_its_own_worker_options(tmp_path):
    s = supervisor.Supervisor(2, ["--mode", "reverse:http://127.0.0.1:1", "--set", "fault_status=true"], exe="mitmdump")
    s.dir = tmp_path
    args = s.worker_args("1")
    assert args[:2] == ["mitmdump", "-s"]
    assert "fault_status=true" in args and "fault_status=false" not in args  # the user's --set, once
    assert args[-6:] == ["--set", "server=false", "--set", "fault_worker=1", "--set", f"fault_worker_dir={tmp_path}"]
    s.args = ["--set=fault_worker=x", "--set", "server=true", "-q"]
    args = s.worker_args("0")
    assert "fault_status=false" in args and "--set=fault_worker=x" not in args and "server=true" not in args
    assert sum(a.startswith("fault_worker=") for a in args) == 1 and "-q" in args


@pytest.mark.parametrize("options, message", [
    ({"fault_worker": "a b"}, "fault_worker='a b': expected 1 to 64 of"),
    ({"fault_worker_dir": "/tmp"}, "fault_worker_dir needs fault_worker"),
    ({"fault_worker": "0", "fault_worker_dir": "/nonexistent/dir"}, "not a directory"),
])
def test_bad_worker_options_are_refused_at_start(options, message, caplog):
    w = Workers()
    with taddons.context(w) as tctx:
        tctx.configure(w, **options)
    assert message in caplog.text


def test_worker_id_goes_into_flow_metadata_and_seeds():
    w = Workers()
    with taddons.context(w) as tctx:
        tctx.configure(w, fault_worker="3")
        f = tflow.tflow()
        w.requestheaders(f)
        assert f.metadata["fault_worker"] == "3" and worker.current() == "3"
        tctx.configure(w, fault_worker="")
        assert not hasattr(w, "requestheaders")  # a lone proxy has no per-flow hook


@pytest.mark.parametrize("modes, ok", [
    (["regular"], True), (["reverse:http://127.0.0.1:1"], True), (["reverse:https://127.0.0.1:1@8443"], True),
    (["socks5"], True), (["dns"], False), (["reverse:dns://127.0.0.1:53"], False), (["wireguard"], False),
    (["regular", "socks5@1081"], False),
])
def test_workers_share_one_tcp_proxy_mode_only(modes, ok):
    from faults.wire import listen

    with taddons.context() as tctx:
        tctx.options.update(mode=modes)
        if ok:
            mode, host, port = listen.shared_mode()
            assert mode.full_spec == modes[0] and isinstance(port, int)
        else:
            with pytest.raises(ValueError, match="exactly one proxy mode|no TCP listener"):
                listen.shared_mode()


def test_fanout_reaches_every_sibling_and_reports_the_one_that_failed(tmp_path):
    import asyncio

    from faults import fanout

    got = {"1": [], "2": []}

    def bad(msg):
        raise ValueError("no")

    async def scenario():
        servers = [await fanout.serve(tmp_path, "0", got.setdefault("0", []).append),
                   await fanout.serve(tmp_path, "1", got["1"].append),
                   await fanout.serve(tmp_path, "2", got["2"].append)]
        assert await fanout.broadcast(tmp_path, "0", {"op": "clear", "seq": 1}) == []
        assert got == {"0": [], "1": [{"op": "clear", "seq": 1}], "2": [{"op": "clear", "seq": 1}]}
        servers.append(await fanout.serve(tmp_path, "3", bad))
        errors = await fanout.broadcast(tmp_path, "0", {"op": "clear", "seq": 2}, timeout=5)
        assert len(errors) == 1 and errors[0].startswith("ctl-3.sock: ValueError('no')")
        for s in servers:
            s.close()

    asyncio.run(scenario())
