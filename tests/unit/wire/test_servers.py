"""faults/wire/servers.py: what it relies on in mitmproxy (guards), and that a process which
closed its mitmproxy_rs UDP server with ``rust_servers_closed`` exits cleanly. Awaiting only
``wait_closed`` there instead, the same script died of SIGSEGV in 5 of 12 runs (the Rust thread
that completed it took the GIL again while Python finalized; see docs/http3.md)."""

import _thread
import asyncio
import inspect
import subprocess
import sys
import textwrap
import threading

import mitmproxy_rs
from mitmproxy.addons.proxyserver import Servers
from mitmproxy.proxy import mode_servers

from faults.wire import servers
from tests.waiting import wait_until


def test_mitmproxy_keeps_each_instances_servers_and_stops_them_by_update():
    assert "self._servers = []" in inspect.getsource(mode_servers.AsyncioServerInstance.__init__)
    assert "s.close()" in inspect.getsource(mode_servers.AsyncioServerInstance._stop)
    assert "s.stop()" in inspect.getsource(Servers.update) and hasattr(Servers, "__iter__")
    assert callable(mitmproxy_rs.udp.UdpServer.close) and callable(mitmproxy_rs.udp.UdpServer.wait_closed)


def test_only_rust_servers_are_waited_for():
    class Inst:
        pass

    class RustServer:
        def wait_closed(self):
            pass

    class Fake:
        servers = [Inst(), Inst()]

    rust = RustServer()
    Fake.servers[0]._servers = [asyncio.Server.__new__(asyncio.Server), rust]
    assert servers._rust_servers(Fake) == [rust]


def test_a_thread_threading_did_not_start_is_foreign_while_it_runs_python():
    """As a Rust thread inside a callback: a thread started below threading (``_thread``)."""
    before = servers.foreign_threads_in_python()
    release, running = threading.Event(), []

    def body():
        running.append(threading.get_ident())
        release.wait(10)

    t = threading.Thread(target=body)
    t.start()
    _thread.start_new_thread(body, ())
    wait_until(lambda: len(running) == 2, 5, "both threads running", poll=0.01, fail=False)
    try:
        assert servers.foreign_threads_in_python() - before == set(running) - {t.ident}
    finally:
        release.set()
        t.join(10)


SCRIPT = textwrap.dedent("""
    import asyncio, logging, socket
    import mitmproxy_rs
    from faults.wire.servers import rust_servers_closed

    logging.basicConfig(level=logging.INFO)  # as mitmdump: mitmproxy_rs logs through Python's logging

    async def main():
        streams, ended = [], []
        async def handle(stream):
            streams.append(stream)
            while data := await stream.read(65535):
                stream.write(data)
            ended.append(stream)

        async def until(cond):
            for _ in range(500):
                if cond():
                    return
                await asyncio.sleep(0.01)

        srv = await mitmproxy_rs.udp.start_udp_server("127.0.0.1", 0, handle)
        socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(5)]
        for s in socks:
            s.connect(srv.getsockname())
            s.send(b"x" * 100)
        await until(lambda: len(streams) == 5)
        for st in streams:
            st.close()
        await until(lambda: len(ended) == 5)  # each handler's last read() answered
        srv.close()
        await rust_servers_closed([srv])
        print("closed", len(streams))
        return srv

    srv = asyncio.run(main())
""")


def test_a_process_exits_cleanly_after_rust_servers_closed():
    for _ in range(10):  # the crash it prevents came in 3 to 4 runs of 10 (about 0.3 s a run)
        p = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=30,
                           env={"PYTHONFAULTHANDLER": "1", "PATH": ""})
        assert p.returncode == 0 and p.stdout.strip() == "closed 5", (p.returncode, p.stdout, p.stderr[-3000:])
