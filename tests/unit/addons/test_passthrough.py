"""fault_passthrough: which hosts no rule can select, and the next_layer decision."""

import ssl

import pytest
from mitmproxy.proxy import context, events, layer
from mitmproxy.proxy.layers import HttpLayer, TCPLayer, modes
from mitmproxy.proxy.layers.http import HTTPMode
from mitmproxy.proxy.mode_specs import ProxyMode
from mitmproxy.test import taddons, tflow

from faults import plan as planmod
from faults.addons import FaultAddon
from faults.spec import parse


def rules(*entries):
    return [planmod.rule_from_option(e, i) for i, e in enumerate(entries)]


@pytest.mark.parametrize("entries, names, expected", [
    ((), ("127.0.0.1",), False),
    (("|~d host-1.invalid|status code=503", "|~d host-2.invalid|status code=503"), ("127.0.0.1",), False),
    (("|~d host-1.invalid|status code=503",), ("127.0.0.1", "host-1.invalid"), True),
    (("|~d api.test & ~u /orders|reset",), ("other.test",), False),   # a ~d conjunct gates the rule
    (("|~d api.test & ~u /orders|reset",), ("api.test",), True),
    (("|~u /orders|reset",), ("other.test",), True),                  # ~u may match any host
    (("|~hq x-test|reset",), ("other.test",), True),                  # so may a header
    (("|~m POST|reset",), ("other.test",), True),
    (("#~d a.test | ~d b.test#reset",), ("c.test",), True),          # "|" is not a gate: conservative
    (("|!~d a.test|reset",), ("c.test",), True),
    (("status code=503 probability=0.1",), ("c.test",), True),        # no filter: every flow
    (("|~d a.test & ~d b.test|reset",), ("a.test", "b.test"), True),  # each regex matches one of the names
    (("|~d a.test & ~d b.test|reset",), ("a.test",), False),
    (("|~d api.test|tls cert=expired",), ("api.test",), True),        # TLS rules count
    (("|~d api.test|tls cert=expired",), ("other.test",), False),
    (("|~src 10.0.0.1|tls cert=expired",), ("other.test",), True),    # not host-gated
    (("refuse",), ("api.test",), False),                              # DNS rules act on queries only
    (("|~d api.test|blackhole",), ("api.test",), False),
])
def test_may_select_host(entries, names, expected):
    assert planmod.may_select_host(rules(*entries), names) is expected


def client_hello(sni: str | None) -> bytes:
    ctx = ssl.create_default_context()
    out, inc = ssl.MemoryBIO(), ssl.MemoryBIO()
    conn = ctx.wrap_bio(inc, out, server_hostname=sni)
    with pytest.raises(ssl.SSLWantReadError):
        conn.do_handshake()
    return out.read()


def nextlayer(opts, mode: str, target, data: bytes, tunnel: bool = False):
    client = tflow.tclient_conn()
    client.proxy_mode = ProxyMode.parse(mode)
    client.tls = False
    client.alpn = None
    server = tflow.tserver_conn()
    server.address = target
    ctx = context.Context(client, opts)
    ctx.server = server
    if tunnel:  # regular mode, after CONNECT
        ctx.layers = [modes.HttpProxy(ctx), HttpLayer(ctx, HTTPMode.regular)]
    else:
        ctx.layers = [modes.ReverseProxy(ctx)] if mode.startswith("reverse") else [modes.HttpProxy(ctx)]
    nl = layer.NextLayer(ctx)
    nl.layer = HttpLayer(ctx, HTTPMode.transparent)  # what mitmproxy's own next_layer chose
    if data:
        nl.events.append(events.DataReceived(client, data))
    return nl


@pytest.fixture
def proxy():
    fa = FaultAddon()
    with taddons.context(*fa.addons) as tctx:
        for name in ("keep_host_header", "show_ignored_hosts"):  # mitmproxy's proxy options
            if name not in tctx.options:
                tctx.options.add_option(name, bool, False, "")
        tctx.options.update(fault_passthrough=True)
        pt = tctx.master.addons.get("faultpassthrough")
        inj = tctx.master.addons.get("faultinjector")
        yield tctx, pt, inj


REVERSE = "reverse:http://127.0.0.1:3000"
GET = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:3000\r\n\r\n"


def decide(tctx, pt, *a, **kw):
    nl = nextlayer(tctx.options, *a, **kw)
    pt.next_layer(nl)
    return nl.layer


def test_reverse_plain_http_to_an_unselectable_upstream_is_relayed(proxy):
    tctx, pt, inj = proxy
    inj.runtime_plan = planmod.Plan(rules("|~d host-1.invalid|status code=503"))
    layer_ = decide(tctx, pt, REVERSE, ("127.0.0.1", 3000), GET)
    assert isinstance(layer_, TCPLayer) and pt.passed == 1


def test_off_by_default_and_never_with_header_faults(proxy):
    tctx, pt, _ = proxy
    tctx.options.update(fault_passthrough=False)
    assert isinstance(decide(tctx, pt, REVERSE, ("127.0.0.1", 3000), GET), HttpLayer)
    tctx.options.update(fault_passthrough=True, fault_header=True)
    assert isinstance(decide(tctx, pt, REVERSE, ("127.0.0.1", 3000), GET), HttpLayer)


def test_a_plan_change_moves_a_host_in_and_out(proxy):
    tctx, pt, inj = proxy
    assert isinstance(decide(tctx, pt, REVERSE, ("127.0.0.1", 3000), GET), TCPLayer)
    inj.runtime_plan = planmod.Plan(rules("|~d 127.0.0.1|status code=503"))
    assert isinstance(decide(tctx, pt, REVERSE, ("127.0.0.1", 3000), GET), HttpLayer)
    inj.runtime_plan = planmod.Plan(rules("|~u /only-here|status code=503"))  # any host
    assert isinstance(decide(tctx, pt, REVERSE, ("127.0.0.1", 3000), GET), HttpLayer)
    inj.runtime_plan = planmod.Plan()
    assert isinstance(decide(tctx, pt, REVERSE, ("127.0.0.1", 3000), GET), TCPLayer)


def test_reverse_mode_relays_only_what_stays_faithful(proxy):
    tctx, pt, _ = proxy
    # a TLS client: mitmproxy terminates TLS for a plain upstream; bytes would not do
    assert isinstance(decide(tctx, pt, REVERSE, ("127.0.0.1", 3000), client_hello("api.test")), HttpLayer)
    assert isinstance(decide(tctx, pt, "reverse:https://127.0.0.1:3000", ("127.0.0.1", 3000), GET), HttpLayer)
    tctx.options.update(keep_host_header=True)  # then each request's Host header is its host
    assert isinstance(decide(tctx, pt, REVERSE, ("127.0.0.1", 3000), GET), HttpLayer)


def test_regular_mode_decides_per_tunnel_by_target_sni_and_host(proxy):
    tctx, pt, inj = proxy
    inj.runtime_plan = planmod.Plan(rules("|~d api.test|status code=503"))
    # the proxy protocol itself is never relayed (absolute-form requests to any host follow)
    assert isinstance(decide(tctx, pt, "regular", ("other.test", 80), GET), HttpLayer)
    tunnel = dict(tunnel=True)
    assert isinstance(decide(tctx, pt, "regular", ("other.test", 443), client_hello("other.test"), **tunnel), TCPLayer)
    assert isinstance(decide(tctx, pt, "regular", ("10.0.0.1", 443), client_hello("api.test"), **tunnel), HttpLayer)
    assert isinstance(decide(tctx, pt, "regular", ("api.test", 443), client_hello(None), **tunnel), HttpLayer)
    plain = b"GET / HTTP/1.1\r\nHost: api.test:8080\r\n\r\n"
    assert isinstance(decide(tctx, pt, "regular", ("10.0.0.1", 8080), plain, **tunnel), HttpLayer)
    assert isinstance(decide(tctx, pt, "regular", ("10.0.0.1", 8080), plain.replace(b"api", b"web"), **tunnel),
                      TCPLayer)
    # the control host is always answered by the proxy
    assert isinstance(decide(tctx, pt, "regular", ("faults.control", 80), b"GET / HTTP/1.1\r\nHost: faults.control\r\n\r\n",
                             **tunnel), HttpLayer)


def test_a_split_client_hello_waits_for_the_rest(proxy):
    tctx, pt, _ = proxy
    hello = client_hello("other.test")
    nl = nextlayer(tctx.options, "regular", ("other.test", 443), hello[:40], tunnel=True)
    pt.next_layer(nl)
    assert nl.layer is None  # mitmproxy asks again when more bytes arrive
    nl.events.append(events.DataReceived(nl.context.client, hello[40:]))
    nl.layer = HttpLayer(nl.context, HTTPMode.transparent)
    pt.next_layer(nl)
    assert isinstance(nl.layer, TCPLayer)


def test_dns_rules_do_not_stop_the_fast_path(proxy):
    tctx, pt, inj = proxy
    inj.runtime_plan = planmod.Plan([planmod.Rule(spec=parse("refuse")[0])])
    assert isinstance(decide(tctx, pt, REVERSE, ("127.0.0.1", 3000), GET), TCPLayer)


def test_the_relay_replaces_the_stack_mitmproxy_chose():
    fa = FaultAddon()
    with taddons.context(*fa.addons) as tctx:
        for name in ("keep_host_header", "show_ignored_hosts"):
            if name not in tctx.options:
                tctx.options.add_option(name, bool, False, "")
        tctx.options.update(fault_passthrough=True)
        nl = nextlayer(tctx.options, REVERSE, ("127.0.0.1", 3000), GET)
        tctx.master.addons.get("faultpassthrough").next_layer(nl)
        # as mitmproxy's own ignore_hosts leaves it: the mode layer, then the relay
        assert [type(x) for x in nl.context.layers] == [modes.ReverseProxy, TCPLayer]
