import time

import pytest

from faults import report
from faults.tools.launch import ProxyProcess


@pytest.fixture(scope="module")
def proxy(upstream, tmp_path_factory):
    rep = tmp_path_factory.mktemp("report") / "report.jsonl"
    px = ProxyProcess(mode=f"reverse:{upstream.url}", options={"fault_header": True, "fault_report": str(rep)})
    px.report_path = rep
    with px:
        yield px
    assert "mitmproxy has crashed" not in px.log()
    assert "Traceback" not in px.log(), px.log()[-3000:]


def records_by_case(px, settle: float = 0.5):
    """Report records grouped by the ``case`` query parameter, in order."""
    time.sleep(settle)
    out: dict[str, list] = {}
    for r in report.read(px.report_path):
        if "case=" in (r.get("url") or ""):
            out.setdefault(r["url"].split("case=")[1].split("&")[0], []).append(r)
    return out


def final_record(recs: list[dict]) -> dict:
    """The record of the attempt whose outcome the client reported. Attempts a
    client retried say ``client_retry``; their records may be written after the
    retry's (an attempt is recorded once what its client saw is settled, and a
    refused stream settles only when its connection closes)."""
    final = [r for r in recs if not r["client_retry"]]
    assert len(final) <= 1, [(r["fault"], r["k6_error_code"], r["k6_error"], r["outcome"]["summary"], r["error"]) for r in recs]
    return final[0] if final else recs[-1]
