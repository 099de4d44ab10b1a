"""Option fault_prefer_h2 (faults/addons/alpn.py) on mitmproxy's real TlsConfig:
the client connection it makes answers h2 to a client offering http/1.1 first, and
the upstream is offered h2 first; off (the default), mitmproxy's order stays."""

import pytest
from mitmproxy import connection
from mitmproxy.addons.tlsconfig import TlsConfig, alpn_select_callback
from mitmproxy.proxy import context
from mitmproxy.test import taddons
from mitmproxy.tls import TlsData

from faults.addons.alpn import H2Preference

OFFERS = [b"http/1.1", b"h2"]


def _start(tmp_path, on: bool, offers=OFFERS, **opts):
    tc, pref = TlsConfig(), H2Preference()
    with taddons.context(tc, pref) as tctx:
        tctx.configure(tc, confdir=str(tmp_path))
        tctx.configure(pref, fault_prefer_h2=on, **opts)
        client = connection.Client(peername=("127.0.0.1", 5000), sockname=("127.0.0.1", 8080), timestamp_start=1)
        client.sni, client.alpn_offers = "example.test", list(offers)
        ctx = context.Context(client, tctx.options)
        ctx.server.address = ("example.test", 443)
        start = TlsData(client, ctx)
        pref.tls_start_client(start)   # our hook runs first (script addons precede TlsConfig)
        tc.tls_start_client(start)     # mitmproxy's own hook: must keep ours
        server_start = TlsData(ctx.server, ctx)
        pref.tls_start_server(server_start)
        return start, ctx


@pytest.mark.parametrize("on,want", [(True, b"h2"), (False, b"http/1.1")])
def test_client_side_choice(tmp_path, on, want):
    start, _ = _start(tmp_path, on)
    assert start.ssl_conn is not None
    assert alpn_select_callback(start.ssl_conn, OFFERS) == want


@pytest.mark.parametrize("on,want", [(True, (b"h2", b"http/1.1")), (False, ())])
def test_upstream_offers(tmp_path, on, want):
    _, ctx = _start(tmp_path, on)
    assert tuple(ctx.server.alpn_offers) == want  # off: TlsConfig fills them in its own hook


def test_no_h2_offered_leaves_mitmproxy_alone(tmp_path):
    start, ctx = _start(tmp_path, True, offers=[b"http/1.1"])
    assert alpn_select_callback(start.ssl_conn, [b"http/1.1"]) == b"http/1.1" and not ctx.server.alpn_offers


def test_http2_off_wins(tmp_path):
    start, ctx = _start(tmp_path, True, http2=False)
    assert alpn_select_callback(start.ssl_conn, OFFERS) == b"http/1.1" and not ctx.server.alpn_offers


def test_option_is_a_bool(tmp_path):
    pref = H2Preference()
    with taddons.context(pref) as tctx:
        with pytest.raises(Exception, match="fault_prefer_h2"):
            tctx.configure(pref, fault_prefer_h2="sometimes")
