"""``faults --version``: this package's, mitmproxy's and k6's versions, as bug reports need."""

import subprocess
import sys

from faults.tools import cli


def test_version_prints_package_mitmproxy_and_k6(capsys):
    try:
        cli.main(["--version"])
    except SystemExit as e:
        assert e.code == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("faults (mitm-faults) ") and out[1].startswith("mitmproxy 12.")
    assert out[2].startswith("k6 ") and out[3].startswith("python 3.")


def test_version_names_a_missing_k6_instead_of_failing(monkeypatch):
    monkeypatch.setattr("faults.tools.k6run.k6_path", lambda: "/nonexistent/k6")
    lines = cli.versions()
    assert lines[2].startswith("k6 not found (/nonexistent/k6")


def test_version_from_the_console_entry():
    out = subprocess.run([sys.executable, "-m", "faults", "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "mitmproxy " in out.stdout and out.stderr == ""
