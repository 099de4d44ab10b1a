"""faults/wire/stack.py walks mitmproxy's private layer stack: regular mode's
HttpProxy keeps no child_layer (it hands its events to the NextLayer it made),
and a CONNECT tunnel's HTTP layer sits below the CONNECT stream. These fail
loudly when a mitmproxy upgrade changes either."""

from mitmproxy.addons.proxyserver import Proxyserver
from mitmproxy.proxy import events, layer
from mitmproxy.proxy.context import Context
from mitmproxy.proxy.layers import modes
from mitmproxy.proxy.layers.http import HTTPMode, HttpLayer, HttpStream
from mitmproxy.test import taddons, tflow

from faults.wire import stack


def test_below_a_regular_proxy_is_the_next_layer_it_feeds():
    with taddons.context(Proxyserver()) as t:
        top = modes.HttpProxy(Context(tflow.tclient_conn(), t.options))
        assert not hasattr(top, "child_layer")
        list(top.handle_event(events.Start()))
        nxt = stack.below(top)
        assert isinstance(nxt, layer.NextLayer)
        assert stack.below(nxt) is None  # undecided yet: no layer below


def test_a_connect_streams_tunnel_layer_is_its_child_layer():
    assert "child_layer" in HttpStream.__annotations__
    assert HttpLayer.__init__.__code__.co_varnames[:3] == ("self", "context", "mode")
    assert {m.name for m in HTTPMode} == {"regular", "transparent", "upstream"}
