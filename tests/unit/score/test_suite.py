import pytest

from faults.errors import SpecError
from faults.score import suite


def test_default_suite_is_valid_and_tls_adds_h2_and_tls_faults():
    plain = suite.from_specs(suite.default_specs())
    assert len(plain) == 19 and {e.kind for e in plain} == {
        "status", "delay", "hang", "reset", "close", "truncate", "bad_gzip", "throttle"}
    with_tls = suite.from_specs(suite.default_specs(tls=True), tls=True)
    assert {"goaway", "rst_stream", "tls"} <= {e.kind for e in with_tls}


def test_spec_entries_keep_the_label_and_add_first():
    e = suite.from_spec("/~u api/status code=503 retry_after=2", "--faults", first=2)
    assert e.label == "/~u api/status code=503 retry_after=2"
    assert e.body == "/~u api/status code=503 retry_after=2 first=2\n" and e.retry_after_s == 2
    own = suite.from_spec("status code=503 first=1", "--faults", first=2)
    assert own.body == "status code=503 first=1\n"  # its own first wins


@pytest.mark.parametrize("spec, msg", [
    ("stauts code=503", "unknown fault kind 'stauts'"),
    ("refuse", "acts on DNS answers"),
    ("tls cert=expired", "add --tls"),
])
def test_refused_up_front(spec, msg):
    with pytest.raises(SpecError, match=msg) as e:
        suite.from_specs([spec])
    assert str(e.value).startswith(f"--faults {spec!r}: ")


def test_suite_file(tmp_path):
    f = tmp_path / "suite.yaml"
    f.write_text("- status code=503\n- {name: slow, fault: delay ms=100, match: '~u /api'}\n")
    a, b = suite.load(f, first=1)
    assert a.label == "status code=503" and a.body == "status code=503 first=1\n"
    assert b.label == "slow" and b.ctype == "application/yaml" and '"first": 1' in b.body
    f.write_text("rules:\n  - status code=503\n  - {fault: nope}\n")
    with pytest.raises(SpecError, match=r"suite.yaml: item 2 \(line 3\).*unknown fault kind 'nope'"):
        suite.load(f)
    f.write_text("[]\n")
    with pytest.raises(SpecError, match="lists none"):
        suite.load(f)
