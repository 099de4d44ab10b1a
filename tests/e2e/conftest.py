import pytest

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


def final_record(recs: list[dict]) -> dict:
    """The record of the attempt whose outcome the client reported. Attempts a
    client retried say ``client_retry``; their records may be written after the
    retry's (an attempt is recorded once what its client saw is settled, and a
    refused stream settles only when its connection closes)."""
    final = [r for r in recs if not r["client_retry"]]
    assert len(final) <= 1, [(r["fault"], r["k6_error_code"], r["k6_error"], r["outcome"]["summary"], r["error"]) for r in recs]
    return final[0] if final else recs[-1]
