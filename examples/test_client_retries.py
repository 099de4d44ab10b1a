"""An example test suite: a real client (examples/client.py) against real faults.

Run it with ``pytest examples`` (the ``fault_proxy`` fixture comes from the
installed plugin). Each test sets the faults it needs; they are cleared
after it, whatever happens. ``expect`` checks what the proxy saw and which
error code k6 would have reported for it.
"""

import time

import pytest

from client import Client, ServiceTimeout, ServiceUnavailable


@pytest.fixture
def client(fault_proxy, upstream_url):
    with Client(upstream_url, proxy=fault_proxy.url, timeout=2.0, retries=3) as c:
        yield c


def test_no_fault_no_retry(client, fault_proxy):
    r = client.get("/api/items")
    assert r.status == 200 and r.attempts == 1
    fault_proxy.expect(code=0, count=1, fault=False)


def test_retries_503_honouring_retry_after(client, fault_proxy):
    fault_proxy.set("|~u /api/|status code=503 retry_after=1 first=2")
    t0 = time.monotonic()
    r = client.get("/api/items")
    assert r.status == 200 and r.attempts == 3
    assert time.monotonic() - t0 >= 2.0  # waited as told, twice
    fault_proxy.expect(code=1503, count=2, fault="status")
    fault_proxy.expect(code=0, count=1)


def test_gives_up_when_503_persists(client, fault_proxy):
    fault_proxy.set("|~u /api/|status code=503 retry_after=0")
    with pytest.raises(ServiceUnavailable) as e:
        client.get("/api/items")
    assert e.value.attempts == 4
    fault_proxy.expect(code=1503, count=4)


def test_only_matching_requests_fail(client, fault_proxy):
    fault_proxy.set("|~u /api/orders|status code=503 retry_after=0")
    assert client.get("/api/items").status == 200
    with pytest.raises(ServiceUnavailable):
        client.get("/api/orders")
    fault_proxy.expect(url="/api/items", code=0, count=1)
    fault_proxy.expect(url="/api/orders", code=1503, count=4)


def test_timeout_is_not_retried(fault_proxy, upstream_url):
    fault_proxy.set("|~u /slow|hang ms=3000")
    with Client(upstream_url, proxy=fault_proxy.url, timeout=0.5) as c:
        t0 = time.monotonic()
        with pytest.raises(ServiceTimeout):
            c.get("/slow")
        assert time.monotonic() - t0 < 2.0
    fault_proxy.expect(fault="hang", count=1)


def test_reset_before_response_is_retried(client, fault_proxy):
    fault_proxy.set("|~u /api/|reset when=before_response first=1")
    r = client.get("/api/items")
    assert r.status == 200 and r.attempts == 2
    assert "ReadError" in r.errors[0] or "RemoteProtocolError" in r.errors[0]
    fault_proxy.expect(fault="reset", code=1220, count=1)
    fault_proxy.expect(code=0, count=1)


def test_reset_mid_body_surfaces_after_retries(client, fault_proxy):
    fault_proxy.set("|~u /big|reset when=mid_body")
    with pytest.raises(ServiceUnavailable):
        client.get("/big?size=200000")
    fault_proxy.expect(fault="reset when=mid_body", code=1220, count=4)


def test_reverse_mode(fault_proxy, upstream_url):
    """The same faults through a reverse proxy in front of the upstream (no proxy settings)."""
    rp = fault_proxy.reverse(upstream_url)
    fault_proxy.set("|~u /api/|status code=503 retry_after=0 first=1")
    with Client(rp.url, retries=2) as c:
        r = c.get("/api/items")
    assert r.status == 200 and r.attempts == 2
    fault_proxy.expect(code=1503, count=1)


def test_flaky_service_is_deterministic_with_the_seed(client, fault_proxy):
    """probability= draws come from the session seed: the same requests get the same faults."""
    def run():
        fault_proxy.set("|~u /api/|status code=503 retry_after=0 probability=0.5")
        return [client.http.get(f"/api/{i}").status_code for i in range(12)]

    first, second = run(), run()
    assert first == second  # .set() reseeds: the same sequence again
    assert {200, 503} <= set(first)
    fault_proxy.expect(code=1503, count=2 * first.count(503))
