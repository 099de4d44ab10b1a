import pytest

from faults.tools.cli import main


@pytest.mark.parametrize("argv, msg", [
    (["score"], "faults score: no command given"),
    (["score", "--faults", "status code=503", "--suite", "s.yaml", "--", "true"], "are exclusive"),
    (["score", "--timeout", "0", "--", "true"], "--timeout 0: expected seconds > 0"),
    (["score", "--first", "0", "--", "true"], "--first 0: expected a whole number >= 1"),
    (["score", "--upstream", "localhost:80", "--", "true"], "--upstream 'localhost:80': expected http://"),
    (["score", "--faults", "status cod=503", "--", "true"],
     "faults score: --faults 'status cod=503': unknown key 'cod' for fault 'status' (did you mean 'code'?)"),
    (["score", "--faults", "blackhole", "--", "true"], "acts on DNS answers"),
    (["score", "--policy", "/nonexistent/p.yaml", "--", "true"], "cannot read the policy"),
])
def test_bad_input_exits_2_with_one_line(argv, msg, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert msg in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("option, value", [("--first", "²"), ("--first", "٣"), ("--seed", "1" * 5000),
                                           ("--timeout", "nan"), ("--timeout", "inf"), ("--timeout", "١")])
def test_numbers_are_read_by_the_one_parser(option, value, capsys):
    """faults/numbers.py: ASCII digits, bounded, one line naming the option."""
    assert main(["score", option, value, "--", "true"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"faults score: {option}=") and err.count("\n") == 1 and len(err) < 300, err
