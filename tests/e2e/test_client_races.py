"""Predictions added or widened by issue 25, each against its real client, on cases
the full client matrix (test_client_matrix.py) does not drive:

- Node's undici (allowH2, fault_prefer_h2) under ``rst_stream code=CANCEL`` before the
  headers (never settles: its AbortSignal; right after them the matrix's own row measures it);
- Chromium's re-send counts for a reset / close before the response on HTTP/1.1: the
  count must be one of those the profile names (its ``retried`` and its ``alt`` readings').

Run it several times to re-measure (each run is a fresh client process).
"""

from __future__ import annotations

import pytest

from . import clientmatrix as cm

CASES = {
    "node": [("h2", "rst_stream code=CANCEL when=before_response")],
    "chromium": [("h1", "reset when=before_response"), ("h1", "close when=before_response")],
}


@pytest.fixture(scope="module")
def proxy(upstream, tmp_path_factory):
    with cm.running_proxy(upstream.url, tmp_path_factory.mktemp("races") / "report.jsonl") as px:
        yield px


def _cases(port: int, client: str) -> list[dict]:
    out = []
    for i, (proto, spec) in enumerate(CASES[client]):
        h = f"{client}-{proto}-race{i}.test"
        cid = h.removesuffix(".test")
        out.append({"id": cid, "url": f"{'http' if proto == 'h1' else 'https'}://{h}:{port}/m?case={cid}&size=30000",
                    "fault": spec, "timeout_ms": cm.TIMEOUT_MS, "spec": spec, "proto": proto, "host": h,
                    "h2": proto == "h2"})
    return out


@pytest.mark.parametrize("client", sorted(CASES))
def test_the_profile_predicts_the_real_client(proxy, client):
    why = cm.missing(client)
    if why:
        pytest.skip(why)
    todo = _cases(proxy.port, client)
    got = cm.run_driver(client, todo, proxy.ca_file)
    recs = cm.settled_records(proxy, todo)
    for c in todo:
        mine = cm.records_for(recs, c)
        assert mine, f"the proxy saw no request for {c['spec']}"
        if c["proto"] == "h2":
            assert {r.get("http_version") for r in mine} == {"HTTP/2.0"}
        bad = cm.mismatch(client, got[c["id"]], mine)
        assert bad is None, (c["spec"], bad, got[c["id"]])
