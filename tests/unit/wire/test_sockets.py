"""Fails loudly when a mitmproxy upgrade moves what faults/wire/sockets.py relies on."""

import asyncio
import inspect

from mitmproxy.version import VERSION
from mitmproxy.addons.proxyserver import Proxyserver
from mitmproxy.proxy import server
from mitmproxy.proxy.layer import Layer
from mitmproxy.proxy.layers.http import HttpLayer, HttpStream

from faults.wire import sockets
from tests.waiting import wait_until_async


def test_mitmproxy_version_is_the_one_wire_was_written_for():
    assert VERSION.startswith(sockets.TESTED_MITMPROXY + "."), (
        f"faults/wire/sockets.py was written against mitmproxy {sockets.TESTED_MITMPROXY}; "
        f"re-check its private lookups for {VERSION}"
    )


def test_a_connection_handler_keeps_its_transports():
    # the handler itself: faults.wire.builtin.connection_of (tests/unit/wire/test_builtin.py)
    src = inspect.getsource(server)
    assert "self.transports" in src and "class ConnectionIO" in src
    assert {"handler", "reader", "writer"} <= set(server.ConnectionIO.__dataclass_fields__)


def test_server_writes_through_the_writer_and_respects_is_closing():
    src = inspect.getsource(server.ConnectionHandler.server_event)
    assert "writer.is_closing()" in src and "writer.write(command.data)" in src
    assert "await transport.writer.drain()" in inspect.getsource(server.ConnectionHandler.drain_writers)


def test_http_layer_exposes_streams_and_paused_events():
    assert "streams" in inspect.getsource(HttpLayer.__init__)
    assert "_paused_event_queue" in inspect.getsource(Layer)
    assert "flow" in HttpStream.__annotations__ and "self.flow = " in inspect.getsource(HttpStream)


def test_paced_writer_paces_and_restores():
    async def scenario():
        written, restored = [], []

        class Inner:
            transport = type("T", (), {"get_write_buffer_size": lambda self: 0})()

            def write(self, d):
                written.append((asyncio.get_running_loop().time(), d))

            def is_closing(self):
                return False

            async def drain(self):
                pass

        pw = sockets.PacedWriter(Inner(), 10_000, restore=restored.append)
        t0 = asyncio.get_running_loop().time()
        pw.write(b"x" * 3000)
        await pw.drain()
        took = asyncio.get_running_loop().time() - t0
        assert b"".join(d for _, d in written) == b"x" * 3000
        assert len(written) > 5 and took >= 0.25
        assert restored == [pw]

    asyncio.run(scenario())


def test_leftover_sockets_are_closed_after_the_client_left(monkeypatch):
    """mitmproxy closes a connection's writer at the end of its reader task
    (handle_connection) and cancels server tasks when the client leaves: the
    two facts close_leftovers works around."""
    src = inspect.getsource(server.ConnectionHandler.handle_connection)
    assert "writer.close()" in src and "await self.server_event(events.ConnectionClosed(connection))" in src
    assert 'io.handler.cancel("client disconnected")' in inspect.getsource(server.ConnectionHandler.handle_client)

    async def scenario():
        closed = []

        class W(asyncio.StreamWriter):
            def __init__(self, name):
                self.name = name

            def __del__(self):
                pass

            def is_closing(self):
                return self.name in closed

            def close(self):
                closed.append(self.name)

        io = lambda w: type("IO", (), {"writer": w})()  # noqa: E731
        handler = type("H", (), {"client": "c", "transports": {"c": io(W("client")), "s": io(W("server"))}})()
        monkeypatch.setattr(sockets.builtin, "connection_of", lambda conn: handler)
        assert sockets.close_leftovers(object(), delay=0.01)
        await wait_until_async(lambda: len(closed) == 2, 5, "both sockets closed", fail=False)  # compared below
        assert sorted(closed) == ["client", "server"]

    asyncio.run(scenario())


def test_half_close_is_recorded_in_the_connection_state(monkeypatch):
    """sockets.close FINs behind mitmproxy's back; mitmproxy's reader task waits for a
    close command after the client's EOF only while the connection CAN_WRITE, so the
    FIN must clear that flag (as mitmproxy's own half-close does), or a handler whose
    layers send no close (httpx's TLS alert after a FIN over HTTP/2) never ends."""
    from mitmproxy.connection import Client, ConnectionState

    src = inspect.getsource(server.ConnectionHandler.handle_connection)
    assert "connection.state &= ~ConnectionState.CAN_READ" in src
    assert "if connection.state is ConnectionState.CAN_WRITE:" in src
    assert "connection.state &= ~ConnectionState.CAN_WRITE" in inspect.getsource(server.ConnectionHandler.close_connection)

    async def scenario():
        eofs = []

        class T:
            def is_closing(self):
                return False

        class W(asyncio.StreamWriter):
            def __init__(self):
                self._transport = T()

            def __del__(self):
                pass

            def write_eof(self):
                eofs.append(1)

        io = type("IO", (), {"writer": W()})()
        monkeypatch.setattr(sockets, "_transport_io", lambda conn: io)
        conn = Client(peername=("127.0.0.1", 1), sockname=("127.0.0.1", 2), timestamp_start=0, state=ConnectionState.OPEN)
        assert sockets.close(conn)
        assert eofs == [1] and isinstance(io.writer, sockets._HalfClosed)
        assert conn.state is ConnectionState.CAN_READ

    asyncio.run(scenario())


def test_links_rely_on_writer_swap_next_layer_and_runtime_modes():
    """faults/wire/links.py and faults/toxiproxy/listeners.py: each direction's
    writer is looked up on every write (so a swapped writer is used), hooks
    block the layer (why toxics do not await in tcp_message), next_layer may
    replace the layer, and listeners are (re)started from the mode option."""
    from mitmproxy.addons.proxyserver import Servers
    from mitmproxy.addons.next_layer import NextLayer
    from mitmproxy.proxy import mode_servers
    from mitmproxy.proxy.layers import TCPLayer

    assert "writer = self.transports[command.connection].writer" in inspect.getsource(server.ConnectionHandler.server_event)
    assert "writer.write_eof()" in inspect.getsource(server.ConnectionHandler.close_connection)
    assert "_paused_event_queue" in inspect.getsource(Layer)  # a blocking hook queues the other events
    assert "async def setup_servers" in inspect.getsource(Proxyserver)
    assert "last_exception" in inspect.getsource(mode_servers.ServerInstance.start)
    assert "def is_running" in inspect.getsource(mode_servers.AsyncioServerInstance)
    assert "self._instances" in inspect.getsource(Servers.update)
    assert "def next_layer" in inspect.getsource(NextLayer)
    assert "ignore" in inspect.signature(TCPLayer.__init__).parameters
    assert "proxy_mode=mode" in inspect.getsource(server.LiveConnectionHandler.__init__)


def test_passthrough_relies_on_layers_registering_in_their_context():
    """faults/wire/passthrough.py: a layer appends itself to context.layers when made,
    a NextLayer does not stay there and asks again on new data while no layer is set;
    TCPLayer takes ``ignore``; an incomplete ClientHello parses to None."""
    from mitmproxy.proxy.layer import NextLayer
    from mitmproxy.proxy.layers import TCPLayer
    from mitmproxy.proxy.layers.tls import parse_client_hello

    assert "self.context.layers.append(self)" in inspect.getsource(Layer.__init__)
    assert "self.context.layers.remove(self)" in inspect.getsource(NextLayer.__init__)
    ask = inspect.getsource(NextLayer._handle_event) + inspect.getsource(NextLayer._ask)
    assert "DataReceived" in ask and "if self.layer:" in ask
    assert "ignore" in inspect.signature(TCPLayer.__init__).parameters
    assert parse_client_hello(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03") is None


def test_shared_listener_relies_on_server_instances_and_the_server_option():
    """faults/wire/listen.py: mitmproxy binds without SO_REUSEPORT (why workers open
    their own listener), ``server=false`` starts no listener, and a mode's
    ServerInstance serves any accepted stream, registered with the proxyserver."""
    from mitmproxy.addons.proxyserver import Servers
    from mitmproxy.proxy import mode_servers, mode_specs

    listen_src = inspect.getsource(mode_servers.AsyncioServerInstance.listen)
    assert "asyncio.start_server(self.handle_stream, host, port)" in listen_src and "reuse_port" not in listen_src
    assert "if ctx.options.server:" in inspect.getsource(Servers.update)
    assert list(inspect.signature(mode_servers.ServerInstance.handle_stream).parameters) == ["self", "reader", "writer"]
    assert "self.manager.register_connection(" in inspect.getsource(mode_servers.ServerInstance.handle_stream)
    assert "def register_connection" in inspect.getsource(Proxyserver)
    inst = mode_servers.ServerInstance.make("reverse:http://127.0.0.1:1", Proxyserver())
    assert isinstance(inst.mode, mode_specs.ReverseMode) and inst.mode.transport_protocol == "tcp"


def test_shared_listener_sockets_share_one_port(tmp_path):
    from faults.wire import listen

    a = listen.reuseport_socket("127.0.0.1", 0)
    b = listen.reuseport_socket("127.0.0.1", a.getsockname()[1])  # a plain second bind would fail
    try:
        assert a.getsockname() == b.getsockname()
    finally:
        a.close()
        b.close()


def test_alpn_choice_relies_on_tlsconfig_app_data_and_hook_order():
    """faults/wire/alpn.py (option fault_prefer_h2): mitmproxy's ALPN callback follows
    the client's order unless the app data names client_alpn; TlsConfig skips its hook
    when a connection exists; script addons run before TlsConfig (so alpn.start_client
    has TlsConfig build the connection first) and TlsConfig is found as "tlsconfig"."""
    from mitmproxy.addons import default_addons, script, tlsconfig

    def conn_with(client_alpn):
        c = type("C", (), {})()
        c.get_app_data = lambda: tlsconfig.AppData(client_alpn=client_alpn, server_alpn=None, http2=True)
        return c

    assert tlsconfig.alpn_select_callback(conn_with(None), [b"http/1.1", b"h2"]) == b"http/1.1"
    assert tlsconfig.alpn_select_callback(conn_with(b"h2"), [b"http/1.1", b"h2"]) == b"h2"
    assert set(tlsconfig.AppData.__annotations__) == {"client_alpn", "server_alpn", "http2"}
    src = inspect.getsource(tlsconfig.TlsConfig.tls_start_client)
    assert "if tls_start.ssl_conn is not None:" in src and "set_app_data(" in src
    assert "alpn_select_callback=alpn_select_callback" in src
    order = [type(a) for a in default_addons()]
    assert order.index(script.ScriptLoader) < order.index(tlsconfig.TlsConfig)
    from mitmproxy.addonmanager import _get_name

    assert _get_name(tlsconfig.TlsConfig()) == "tlsconfig"
    # the upstream's offers: TlsConfig keeps offers an addon set before its hook
    assert "if not server.alpn_offers:" in inspect.getsource(tlsconfig.TlsConfig.tls_start_server)
