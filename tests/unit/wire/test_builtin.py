"""faults/wire/builtin.py: mitmproxy's own addons found by class, and the proxy server's open
connections read in this one place (fails loudly when mitmproxy changes what that relies on)."""

import inspect
from types import SimpleNamespace

from mitmproxy import ctx
from mitmproxy.addons.proxyserver import Proxyserver
from mitmproxy.proxy import mode_servers
from mitmproxy.test import taddons

from faults.wire import builtin


def test_proxyserver_keeps_a_handler_per_client_connection_id():
    assert "connections" in Proxyserver().__dict__
    assert "self.connections[connection_id] = handler" in inspect.getsource(Proxyserver.register_connection)
    assert "register_connection(handler.layer.context.client.id, handler)" in inspect.getsource(mode_servers)


def test_without_a_master_there_is_no_proxy_server_and_no_connection(monkeypatch):
    monkeypatch.delattr(ctx, "master", raising=False)
    client = SimpleNamespace(id="c1")
    assert builtin.proxyserver_or_none() is None
    assert builtin.connection_of(client) is None and builtin.open_connections() == []


def test_connections_are_read_from_the_masters_proxy_server():
    server = Proxyserver()
    with taddons.context(server):
        assert builtin.proxyserver_or_none() is server
        handler = object()
        with server.register_connection("c1", handler):
            assert builtin.connection_of(SimpleNamespace(id="c1")) is handler
            assert builtin.connection_of(SimpleNamespace(id="c2")) is None
            assert builtin.open_connections() == [handler]
        assert builtin.connection_of(SimpleNamespace(id="c1")) is None and builtin.open_connections() == []
