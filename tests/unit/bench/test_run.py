"""bench/run.py's k6overhead summary: each configuration's processes are averaged, per
round and per process, before the ratio against plain mitmdump's."""
import pytest

from bench.run import _positive, summarize_k6overhead


def _run(cpu, requests=1000):
    return {"cpu_us_per_request": cpu, "requests": requests, "rps": 100.0, "p50": 1.0, "p99": 2.0, "failed": 0,
            "proto_ok": 1}


def _data(procs: dict[str, list[float]]) -> dict:
    runs = {name: [_run(c) for c in cpus] for name, cpus in procs.items()}
    return {"procs": 2, "h1": runs, "h2": runs}


def test_processes_of_a_configuration_are_averaged_before_the_ratio():
    s = summarize_k6overhead(_data({
        "plain": [1000, 1000, 1000], "plain#2": [1100, 1100, 1100],   # one process slower all its life
        "a": [1100, 1000, 1100], "a#2": [1000, 1100, 1000],
    }))["h1"]
    plain, a = s["plain"], s["a"]
    assert plain["procs"] == a["procs"] == 2
    assert plain["per_process"] == [1000, 1100] and plain["process_mean"] == 1050
    assert a["per_process"] == [1100, 1000]
    assert a["process_ratio"] == pytest.approx(1.0)
    assert a["cpu_ratios"] == [1.0, 1.0, 1.0]           # per round: 1050 against 1050
    assert a["requests"] == 6000
    assert plain["cpu_min_ratio"] == pytest.approx(1.0)


def test_a_single_process_per_configuration_is_the_old_per_round_ratio():
    s = summarize_k6overhead(_data({"plain": [1000, 1200], "b": [1250, 1200]}))["h2"]
    assert s["b"]["cpu_ratios"] == [0.8, 1.0]
    assert s["b"]["cpu_ratio_min"] == pytest.approx(0.8) and s["b"]["cpu_ratio"] == pytest.approx(0.9)
    assert s["b"]["process_ratio"] == pytest.approx(1100 / 1225)


@pytest.mark.parametrize("text", ["0", "-1", "two", ""])
def test_procs_must_be_a_whole_number_of_at_least_one(text):
    import argparse
    with pytest.raises(argparse.ArgumentTypeError, match="at least 1"):
        _positive(text)


def test_k6overhead_options_without_that_section_are_refused(capsys):
    from bench.run import main
    with pytest.raises(SystemExit) as e:
        main(["--only", "micro", "--procs", "3"])
    assert e.value.code == 2
    assert "--procs: for the overhead and k6overhead sections only" in capsys.readouterr().err


def test_pin_without_k6overhead_is_refused(capsys):
    from bench.run import main
    with pytest.raises(SystemExit):
        main(["--only", "overhead", "--pin", "0,1"])
    assert "--pin: for the k6overhead section only" in capsys.readouterr().err


def test_overhead_summary_averages_processes_per_round():
    from bench.run import summarize_overhead
    def r(rps, cpu):
        return {"rps": rps, "cpu_us_per_request": cpu, "p50": 1.0, "p99": 2.0}
    data = {"h1": {"direct": [{"rps": 5e4, "p50": 0.2, "p99": 0.5}] * 2,
                   "plain": [r(800, 1000), r(800, 1000)], "plain#2": [r(700, 1100), r(900, 1200)],
                   "a": [r(750, 1050), r(850, 1100)], "a#2": [r(750, 1050), r(850, 1100)]},
            "h2": {}}
    s = summarize_overhead(data)["h1"]
    assert s["a"]["procs"] == 2 and s["plain"]["procs"] == 2
    assert s["a"]["ratios"] == [1.0, 1.0]               # 750 against (800 + 700) / 2, 850 against 850
    assert s["a"]["cpu_ratios"] == [1.0, 1.0]           # 1,050 against 1,050, 1,100 against 1,100
    assert s["direct"]["ratio"] is None and s["direct"]["cpu_us"] is None


def test_a_round_a_process_lacks_stays_in_place_against_plain():
    """A round without a CPU reading for one process is left out of that configuration's ratios,
    and the later rounds still pair with plain's same rounds."""
    from bench.run import summarize_overhead

    def r(cpu):
        return {"rps": 100.0, "cpu_us_per_request": cpu, "p50": 1.0, "p99": 2.0}
    data = {"h1": {"plain": [r(1000), r(1000), r(2000)], "a": [r(1000), r(None), r(2000)]}, "h2": {}}
    s = summarize_overhead(data)["h1"]
    assert s["a"]["cpu_ratios"] == [1.0, 1.0]  # rounds 1 and 3, each against plain's own
    assert s["a"]["cpu_us"] == 1500
