"""toxiproxy-python 0.1.1 (PyPI), unchanged, against this proxy's Toxiproxy API:
create proxies, add every toxic, send real TCP traffic and measure the effect,
delete and reset. The client's API address is its class attributes (its own
``update_api_consumer``), so only the address changes.

Time is only bounded from below (a toxic's delay happened: sleeps are never early);
that nothing more happened is told by facts: the bytes, the order of events, the
proxy's record of which toxics each connection went through."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest
import toxiproxy
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

from faults.tools.launch import ProxyProcess
from tests.e2e.toxiproxy_support import (Echo, connect, connecting_to, recv_exactly, round_trip,
                                         start_toxiproxy)
from tests.e2e.waiting import (any_record, fd_targets, read_records, records_by_case, tcp_connections, wait_connections_closed,
                               wait_for_records, wait_until)


@pytest.fixture(scope="module")
def px(tmp_path_factory):
    p = start_toxiproxy(tmp_path_factory.mktemp("toxi"), toxiproxy_seed=7)
    yield p
    p.stop()
    assert "Traceback" not in p.log(), p.log()[-3000:]
    assert "mitmproxy has crashed" not in p.log()


@pytest.fixture(scope="module")
def echo():
    e = Echo()
    yield e
    e.close()


@pytest.fixture
def server(px):
    t = toxiproxy.Toxiproxy()
    t.update_api_consumer("127.0.0.1", px.api_port)
    t.destroy_all()
    yield t
    t.destroy_all()


def connection_records(px, proxy: str, count: int = 1) -> list[dict]:
    """The records of ``proxy``'s connections (written when a connection's links are done),
    once there are ``count``, in the order the connections were made."""
    def mine(recs):
        return [r for r in recs if r.get("record") == "connection" and r["proxy"] == proxy]
    recs = mine(wait_for_records(px.report_path, lambda rs: len(mine(rs)) >= count,
                                 f"{count} connection records of proxy {proxy}"))
    return sorted(recs, key=lambda r: r["connection"])


def arrived(echo, data: bytes) -> bool:
    return any(d == data for _, d in echo.arrivals)


def server_port(server) -> int:
    from toxiproxy.api import APIConsumer
    return APIConsumer.port


def test_version_create_list_get_destroy(server, echo):
    assert server.running()
    assert server.version() == b'{"version": "2.12.0"}\n'
    p = server.create(upstream=echo.addr, name="echo")  # listen: the client sends 127.0.0.1:0
    assert p.enabled is True and p.listen.startswith("127.0.0.1:") and not p.listen.endswith(":0")
    assert round_trip(p.listen)[0] == b"hello"
    assert set(server.proxies()) == {"echo"}
    assert server.get_proxy("echo").listen == p.listen
    with pytest.raises(ProxyExists):
        server.create(upstream=echo.addr, name="echo")
    assert p.destroy()
    assert server.proxies() == {}
    with pytest.raises(ConnectionRefusedError):
        round_trip(p.listen)
    with pytest.raises(NotFound):
        p.destroy()


def test_latency_is_measured_and_does_not_hold_the_other_direction(server, echo, px):
    p = server.create(upstream=echo.addr, name="lat")
    p.add_toxic(type="latency", attributes={"latency": 400})
    assert p.toxics()["latency_downstream"].attributes == {"latency": 400, "jitter": 0}
    # each connection's record, written when it is done (before the toxics change): what it went through
    got, rtt = round_trip(p.listen)
    assert got == b"hello" and rtt >= 0.4, rtt
    assert connection_records(px, "lat", 1)[-1]["toxics"] == {"upstream": [], "downstream": ["latency_downstream"]}
    p.add_toxic(type="latency", stream="upstream", attributes={"latency": 200})  # stacked: both add up
    got, rtt = round_trip(p.listen)
    assert got == b"hello" and rtt >= 0.6, rtt
    assert connection_records(px, "lat", 2)[-1]["toxics"] == {"upstream": ["latency_upstream"],
                                                              "downstream": ["latency_downstream"]}
    p.destroy_toxic("latency_downstream")
    p.destroy_toxic("latency_upstream")
    assert round_trip(p.listen)[0] == b"hello"
    assert connection_records(px, "lat", 3)[-1]["toxics"] == {"upstream": [], "downstream": []}  # not delayed
    # upstream bytes are not held by the downstream delay: while the echo of "a" is held
    # downstream (a latency longer than any test), "b", sent after it, reaches the server
    p.add_toxic(type="latency", name="held", attributes={"latency": 600_000})
    with connect(p.listen) as s:
        s.sendall(b"lat-a")
        wait_until(lambda: arrived(echo, b"lat-a"), 5, "a at the server")
        s.sendall(b"lat-b")
        wait_until(lambda: arrived(echo, b"lat-b"), 5, "b at the server, a still held")
        s.setblocking(False)
        with pytest.raises(BlockingIOError):
            s.recv(10)  # a is still held
        p.destroy_toxic("held")  # what it held is delivered, in order
        assert recv_exactly(s, 10)[0] == b"lat-alat-b"


def test_bandwidth_is_measured_and_rate_0_stalls(server, echo):
    p = server.create(upstream=echo.addr, name="bw")
    p.add_toxic(type="bandwidth", attributes={"rate": 200})  # KB/s
    data = b"x" * 100_000
    with connect(p.listen) as s:
        t0 = time.monotonic()
        s.sendall(data)
        got, _ = recv_exactly(s, len(data))
        took = time.monotonic() - t0
    assert got == data and took >= 0.45, took  # 100 KB at 200 KB/s: 0.5 s (the pace: tests/unit/toxiproxy)
    p.destroy_toxic("bandwidth_downstream")
    p.add_toxic(type="bandwidth", name="cut", attributes={"rate": 0})
    with connect(p.listen) as s:
        s.sendall(b"held")
        s.settimeout(0.5)
        with pytest.raises(socket.timeout):
            s.recv(10)
        p.destroy_toxic("cut")  # what was held is delivered, as Toxiproxy does
        assert recv_exactly(s, 4)[0] == b"held"


def test_timeout_closes_after_silence(server, echo):
    p = server.create(upstream=echo.addr, name="to")
    p.add_toxic(type="timeout", attributes={"timeout": 300})
    with connect(p.listen) as s:
        t0 = time.monotonic()
        s.sendall(b"dropped")
        got, _ = recv_exactly(s, 7)
        took = time.monotonic() - t0
    assert got == b"" and took >= 0.25, (got, took)  # closed (recv_exactly waits 5 s), the data dropped


def test_reset_peer(server, echo):
    p = server.create(upstream=echo.addr, name="rp")
    p.add_toxic(type="reset_peer", stream="upstream", attributes={"timeout": 100})
    with connect(p.listen) as s:
        s.sendall(b"x")
        with pytest.raises(ConnectionResetError):
            recv_exactly(s, 1)


def test_limit_data_and_slicer(server, echo):
    p = server.create(upstream=echo.addr, name="ld")
    p.add_toxic(type="limit_data", attributes={"bytes": 10})
    with connect(p.listen) as s:
        s.sendall(b"0123456789abcdef")
        assert recv_exactly(s, 16)[0] == b"0123456789"  # then EOF
    p.destroy_toxic("limit_data_downstream")
    p.add_toxic(type="slicer", attributes={"average_size": 10, "size_variation": 2, "delay": 20_000})
    with connect(p.listen) as s:
        s.sendall(b"y" * 100)
        got, calls = recv_exactly(s, 100)
    assert got == b"y" * 100 and calls >= 6, calls  # ~10 slices, 20 ms apart


def test_slow_close(server, echo):
    p = server.create(upstream=echo.addr, name="sc")
    p.add_toxic(type="slow_close", attributes={"delay": 300})
    with connect(p.listen) as s:
        s.sendall(b"bye")
        assert recv_exactly(s, 3)[0] == b"bye"
        t0 = time.monotonic()
        s.shutdown(socket.SHUT_WR)  # the echo server closes; its FIN reaches us 300 ms late
        assert s.recv(10) == b""
        assert time.monotonic() - t0 >= 0.28


def test_toxicity_is_seeded_per_connection(server, echo, px):
    def tox(recs):
        return [r for r in recs if r.get("record") == "connection" and r["proxy"] == "tox"]

    def pattern():
        before = len(tox(read_records(px.report_path)))
        p = server.create(upstream=echo.addr, name="tox")
        p.add_toxic(type="latency", toxicity=0.5, attributes={"latency": 300})
        rtts = [round_trip(p.listen)[1] for _ in range(8)]
        p.destroy()
        # which connections the toxic applied to: the proxy's record of each (a loaded machine
        # can make an unslowed round trip as slow as a slowed one, so time cannot tell)
        recs = tox(wait_for_records(px.report_path, lambda rs: len(tox(rs)) >= before + 8,
                                    "the 8 connections' records"))[before:]
        recs.sort(key=lambda r: r["connection"])  # written as each ends: not always in the order made
        out = [bool(r["toxics"].get("downstream")) for r in recs]
        assert all(rtt >= 0.3 for rtt, slowed in zip(rtts, out) if slowed), (rtts, out)  # sleeps are never early
        return out

    first = pattern()
    assert 0 < sum(first) < 8, first
    assert pattern() == first  # toxiproxy_seed=7: the same connections are slowed


def test_disable_refuses_and_closes_live_connections_enable_and_reset(server, echo, px):
    p = server.create(upstream=echo.addr, name="dn")
    live = connect(p.listen)
    live.sendall(b"1")
    assert recv_exactly(live, 1)[0] == b"1"
    with p.down():
        with pytest.raises(ConnectionRefusedError):
            round_trip(p.listen)
        live.settimeout(5)
        assert live.recv(10) == b""  # the live connection was closed, as Toxiproxy does
    live.close()
    assert round_trip(p.listen)[0] == b"hello"
    p.add_toxic(type="latency", attributes={"latency": 300})
    p.disable()
    server.reset()  # re-enables every proxy and removes every toxic
    assert server.get_proxy("dn").enabled is True
    assert p.toxics() == {}
    assert round_trip(p.listen)[0] == b"hello"
    assert connection_records(px, "dn", 3)[-1]["toxics"] == {"upstream": [], "downstream": []}


def test_invalid_toxic_and_unknown_proxy(server, echo):
    p = server.create(upstream=echo.addr, name="bad")
    with pytest.raises(InvalidToxic):
        p.add_toxic(type="nope")
    with pytest.raises(InvalidToxic):
        p.add_toxic(type="latency", stream="sideways")
    with pytest.raises(NotFound):
        p.destroy_toxic("missing")


def test_populate_and_http_toxic_in_the_report(server, upstream, px):
    made = server.populate([{"name": "web", "upstream": f"127.0.0.1:{upstream.port}", "listen": "127.0.0.1:0"}])
    assert [m.name for m in made] == ["web"]
    web = server.get_proxy("web")
    # beyond Toxiproxy: one of this proxy's own fault kinds, on matching requests only
    web.add_toxic(type="http", name="orders_503", attributes={"spec": "status code=503", "match": "~u /orders"})
    base = f"http://{web.listen}"
    with httpx.Client(timeout=5) as c:
        assert c.get(base + "/orders?case=tp503").status_code == 503
        assert c.get(base + "/items?case=tp200").status_code == 200
    # raw toxics still apply on a proxy that parses HTTP, and socket-level faults work through them
    web.add_toxic(type="latency", attributes={"latency": 200})
    web.add_toxic(type="http", name="rst", attributes={"spec": "reset when=mid_body", "match": "~u /big"})
    with httpx.Client(timeout=5) as c:
        t0 = time.monotonic()
        assert c.get(base + "/items?case=tpslow").status_code == 200
        assert time.monotonic() - t0 >= 0.2
        with pytest.raises(httpx.ReadError):
            c.get(base + "/big?size=100000&case=tprst")
    web.destroy_toxic("rst")
    web.destroy_toxic("latency_downstream")
    web.destroy_toxic("orders_503")  # answered once the listener is raw TCP again
    with httpx.Client(timeout=5) as c:
        assert c.get(base + "/orders?case=tpok").status_code == 200
    # closed=False: the proxy's Toxiproxy API may hold the client's connection
    recs = {case: rs[-1] for case, rs in records_by_case(px, ["tp503", "tp200", "tprst"], any_record,
                                                          closed=False).items()}
    assert recs["tp503"]["k6_error_code"] == 1503 and recs["tp503"]["rule"] == "toxiproxy orders_503"
    assert recs["tp200"]["k6_error_code"] == 0
    assert recs["tprst"]["k6_error_code"] == 1220 and recs["tprst"]["rule"] == "toxiproxy rst"


def test_raw_connections_are_in_the_report(server, echo, px):
    p = server.create(upstream=echo.addr, name="rec")
    p.add_toxic(type="reset_peer", attributes={"timeout": 0})
    with connect(p.listen) as s:
        s.sendall(b"x")
        with pytest.raises(ConnectionResetError):
            recv_exactly(s, 1)
    (rec,) = connection_records(px, "rec")
    assert rec["end"] == "rst" and rec["k6_error_code"] == 1220
    assert rec["toxics"]["downstream"] == ["reset_peer_downstream"]


def test_tls_stays_raw_on_a_tcp_proxy(server):
    """next_layer keeps TLS raw: the client sees the upstream's own certificate, not mitmproxy's."""
    import ssl

    from faults.tools.upstream import Upstream

    def peer_cert(host, port):
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        with socket.create_connection((host, port), timeout=5) as raw, ctx.wrap_socket(raw) as s:
            return s.getpeercert(binary_form=True)

    with Upstream(tls=True) as up:
        p = server.create(upstream=f"127.0.0.1:{up.port}", name="tls")
        host, port = p.listen.rsplit(":", 1)
        assert peer_cert(host, int(port)) == peer_cert("127.0.0.1", up.port)


def test_listen_conflicts_are_api_errors(server, echo):
    a = server.create(upstream=echo.addr, name="a")
    with pytest.raises(Exception):  # the client raises nothing of its own for a 500: requests' JSON error
        server.create(upstream="127.0.0.1:9", name="b", listen=a.listen)
    assert "b" not in server.proxies()
    r = httpx.post(f"http://127.0.0.1:{server_port(server)}/proxies",
                   json={"name": "b", "upstream": "127.0.0.1:9", "listen": a.listen})
    assert r.status_code == 500 and r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.json() == {"error": f"listen tcp {a.listen}: bind: address already in use", "status": 500}
    assert round_trip(a.listen)[0] == b"hello"  # the first proxy still works


def back_to_baseline(pid: int, before: dict[str, str]) -> None:
    def extra():
        return {fd: what for fd, what in fd_targets(pid).items() if before.get(fd) != what}
    wait_until(lambda: len(fd_targets(pid)) <= len(before), 15, f"the {len(before)} file descriptors of the baseline",
               seen=lambda: f"{extra()} open besides, TCP connections: {tcp_connections(pid)}")


def test_no_leak_when_proxies_are_deleted(server, echo, px):
    """Exactly the baseline's file descriptors once the clients are done: each deleted proxy's
    listener and live connections closed, and the sockets of connections that ended with a half
    close on each side (FIN both ways, through a toxic) too. Counted, not read from the TCP
    table: a socket whose TCP side is over but whose fd is still open is no TCP connection
    there (the fd the proxy once left to the garbage collector)."""
    kept = server.create(upstream=echo.addr, name="kept")  # its listener is part of the baseline
    kept.add_toxic(type="latency", attributes={"latency": 50})
    wait_connections_closed(px)  # the earlier tests' connections are not part of the baseline
    pid = px.proc.pid
    before = fd_targets(pid)
    for i in range(5):
        p = server.create(upstream=echo.addr, name=f"leak{i}")
        p.add_toxic(type="latency", attributes={"latency": 50})
        held = [connect(p.listen) for _ in range(3)]
        for s in held:
            s.sendall(b"z")
        assert recv_exactly(held[0], 1)[0] == b"z"
        p.destroy()  # closes the listener and its live connections
        for s in held:
            s.close()
    # last, with no API request after them (its work could let the garbage collector close a
    # leaked socket before the count): connections closed by the client, FIN both ways
    for _ in range(3):
        assert round_trip(kept.listen)[0] == b"hello"
    # the API's connection of the last request closes once the proxy reads the client's FIN
    back_to_baseline(pid, before)


def test_a_server_connecting_after_the_delete_gets_nothing_and_is_closed(server, px):
    """A proxy deleted while its connection's server connect is still under way (the SYN is
    retried: the upstream's accept queue is full): the late server socket is closed unused,
    as the client's was (before, it was linked to the ended connection: the client's bytes
    reached the server after the delete, and its fd stayed open)."""
    wait_connections_closed(px)
    pid = px.proc.pid
    before = fd_targets(pid)
    with socket.socket() as up, socket.socket() as filler:
        up.bind(("127.0.0.1", 0))
        up.listen(0)  # one connection fills the accept queue: the proxy's SYN is dropped, retried in 1 s
        port = up.getsockname()[1]
        filler.connect(("127.0.0.1", port))
        p = server.create(upstream=f"127.0.0.1:{port}", name="late")
        with connect(p.listen) as c:
            c.sendall(b"z")
            wait_until(lambda: connecting_to(pid, port), 15, "the proxy's connect to the server under way")
            p.destroy()
        up.accept()[0].close()  # the filler: room in the queue for the proxy's retried SYN
        up.settimeout(15)
        late, _ = up.accept()
        with late:
            late.settimeout(15)
            try:
                got = late.recv(10)
            except ConnectionResetError:
                got = b""
    assert got == b""  # closed, nothing relayed
    back_to_baseline(pid, before)


def test_config_file_populates_at_start_and_a_bad_one_stops_it(tmp_path, echo):
    cfg = tmp_path / "toxiproxy.json"
    cfg.write_text(json.dumps([{"name": "cfg", "listen": "127.0.0.1:0", "upstream": echo.addr}]))
    p = start_toxiproxy(tmp_path, toxiproxy_config=str(cfg))
    try:
        proxies = httpx.get(f"http://127.0.0.1:{p.api_port}/proxies").json()
        assert proxies["cfg"]["enabled"] is True
        assert round_trip(proxies["cfg"]["listen"])[0] == b"hello"
    finally:
        p.stop()
    cfg.write_text('[{"name": "x"}]')
    bad = ProxyProcess("regular", {"toxiproxy_api": "127.0.0.1:0", "toxiproxy_config": str(cfg)})
    with pytest.raises(RuntimeError) as e:
        bad.start()
    assert f"toxiproxy_config: {cfg}: proxy 1: missing required field upstream" in str(e.value)
    assert "Traceback" not in str(e.value)


def test_http_toxic_over_tls_and_http2_and_latency_on_the_handshake(server, upstream, px):
    """A proxy with http toxics terminates TLS like any reverse proxy here (mitmproxy's CA), speaks
    HTTP/2, and raw toxics apply from the first byte: the handshake is delayed too."""
    import ssl

    class H2First(ssl.SSLContext):  # httpx offers http/1.1 first (docs/usage.md, HTTPS and HTTP/2)
        def set_alpn_protocols(self, protocols):
            super().set_alpn_protocols(sorted(protocols, key=lambda p: p != "h2"))

    ctx = H2First(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(str(px.ca_file))
    ctx.check_hostname = False
    p = server.create(upstream=f"127.0.0.1:{upstream.port}", name="h2")
    p.add_toxic(type="http", name="o503", attributes={"spec": "status code=503", "match": "~u /orders"})
    with httpx.Client(http2=True, verify=ctx, timeout=5) as c:
        r = c.get(f"https://{p.listen}/orders")
        assert (r.status_code, r.http_version) == (503, "HTTP/2")
        assert c.get(f"https://{p.listen}/items").status_code == 200
    p.add_toxic(type="latency", attributes={"latency": 200})
    with httpx.Client(http2=True, verify=ctx, timeout=5) as c:
        t0 = time.monotonic()
        assert c.get(f"https://{p.listen}/items").status_code == 200
        took = time.monotonic() - t0
    assert took >= 0.4, took  # the server's handshake flight and the response: 2 x 200 ms
