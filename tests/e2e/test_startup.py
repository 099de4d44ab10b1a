"""Start-up, as a user sees it in mitmdump: a misspelt option stops it with a
did-you-mean (mitmproxy alone would run with no faults), and a good start says
what is active in one line."""

import pytest

from faults.tools.launch import ProxyProcess


def test_misspelt_option_stops_mitmdump(tmp_path):
    px = ProxyProcess(options={"fault_plam": str(tmp_path / "plan.yaml")})
    with pytest.raises(RuntimeError) as e:
        px.start()
    assert px.proc.returncode == 1
    assert "unknown option 'fault_plam' (--set fault_plam=...): did you mean fault_plan?" in str(e.value)


def test_start_up_line(tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text("rules:\n  - {match: '~u /a', fault: status code=503}\n")
    with ProxyProcess(options={"fault_plan": str(plan), "faults": ["hang"]}) as px:
        pass
    [line] = [ln for ln in px.lines if "faults: active:" in ln]
    assert line.endswith(f"faults: active: plan {plan} (1 rule), 1 option rule, x-fault header off, "
                         "control endpoint off"), line
