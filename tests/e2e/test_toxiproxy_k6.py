"""What k6 reports through Toxiproxy proxies, next to what the report says
(toxiproxy-python drives the API; the real k6 sends the requests)."""

from __future__ import annotations

import pytest
import toxiproxy

from faults.tools import k6run
from tests.e2e.toxiproxy_support import start_toxiproxy
from tests.e2e.waiting import any_record, read_records, records_by_case, wait_until


@pytest.fixture(scope="module")
def px(tmp_path_factory):
    p = start_toxiproxy(tmp_path_factory.mktemp("toxi-k6"))
    yield p
    p.stop()
    assert "Traceback" not in p.log()


def k6_once(url: str) -> tuple[int, str]:
    r = k6run.run([{"id": "c", "url": url, "timeout": "5s"}])["c"]
    return r["error_code"], r["error"]


def connections(px, proxy: str) -> list[dict]:
    return [r for r in read_records(px.report_path) if r.get("record") == "connection" and r["proxy"] == proxy]


def connection_record(px, proxy: str, n: int) -> dict:
    """The record of ``proxy``'s n-th connection (each k6 run here makes one). Written when the
    connection's links are done, so the previous run's may come after this run's start: it is
    found by its number, never by counting the records there are."""
    def nth():
        return next((r for r in connections(px, proxy) if r["connection"] == n), None)
    return wait_until(nth, 15, f"the record of connection {n} of proxy {proxy}")


def test_k6_codes_match_the_report(px, upstream):
    t = toxiproxy.Toxiproxy()
    t.update_api_consumer("127.0.0.1", px.api_port)
    t.destroy_all()
    p = t.create(upstream=f"127.0.0.1:{upstream.port}", name="k6")
    url = f"http://{p.listen}/orders"
    assert k6_once(url) == (0, "")

    p.add_toxic(type="reset_peer", stream="upstream", attributes={"timeout": 0})
    assert k6_once(url) == (1220, "read: connection reset by peer")
    p.destroy_toxic("reset_peer_upstream")
    rec = connection_record(px, "k6", 2)
    assert (rec["end"], rec["k6_error_code"], rec["k6_error"]) == ("rst", 1220, "read: connection reset by peer")

    p.add_toxic(type="timeout", stream="upstream", attributes={"timeout": 200})
    assert k6_once(url) == (1000, "EOF")  # closed before any response byte
    p.destroy_toxic("timeout_upstream")
    rec = connection_record(px, "k6", 3)
    assert (rec["end"], rec["k6_error_code"], rec["k6_error"]) == ("closed", 1000, "EOF")

    with p.down():
        code, msg = k6_once(url)
    assert code == 1212 and "connection refused" in msg  # the disabled proxy refuses

    p.add_toxic(type="http", name="k6_503", attributes={"spec": "status code=503", "match": "~u /orders"})
    assert k6_once(url + "?case=k6503") == (1503, "")
    (rec,) = records_by_case(px, ["k6503"], any_record, closed=False)["k6503"]
    assert (rec["rule"], rec["k6_error_code"]) == ("toxiproxy k6_503", 1503)
    p.destroy()
