"""One listening port shared by several mitmdump workers (``faults proxy --workers N``).

mitmproxy 12.3 opens its listeners with a plain ``asyncio.start_server`` and
no SO_REUSEPORT, so a second mitmdump on the same port fails. A worker runs
with ``--set server=false`` (mitmproxy opens nothing) and this module opens
the listener instead: a socket with SO_REUSEPORT bound to the shared port,
whose connections go to the proxy mode's own ``ServerInstance.handle_stream``
(the code mitmproxy's own listener calls), registered with the
``proxyserver`` addon like any connection. The kernel spreads new connections
over the workers' sockets by a hash of the connection's addresses.

The private parts relied on (``ServerInstance.make``, ``handle_stream``, the
proxyserver as the connection registry) are checked by tests/unit/wire/test_sockets.py.
"""

from __future__ import annotations

import asyncio
import socket

from mitmproxy import ctx
from mitmproxy.proxy import mode_specs
from mitmproxy.proxy.mode_servers import ServerInstance

from faults.wire import builtin

BACKLOG = 1024


def shared_mode() -> tuple[mode_specs.ProxyMode, str, int]:
    """The one TCP proxy mode a worker serves, its listen host and port (0: any
    free port); a ValueError says why the configured modes cannot be shared."""
    specs = list(ctx.options.mode)
    if len(specs) != 1:
        raise ValueError(f"workers serve exactly one proxy mode, got {len(specs)} ({', '.join(specs)})")
    mode = mode_specs.ProxyMode.parse(specs[0])
    port = mode.listen_port(ctx.options.listen_port)
    udp = mode.type_name == "dns" or getattr(mode, "scheme", "") in ("dns", "udp", "dtls", "quic", "http3")
    if udp or mode.transport_protocol not in ("tcp", "both") or port is None:
        raise ValueError(f"mode {specs[0]!r} has no TCP listener to share between workers "
                         "(workers serve regular, reverse, upstream, socks5 or transparent modes over TCP)")
    return mode, mode.listen_host(ctx.options.listen_host), port


def reuseport_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket with SO_REUSEPORT on ``host:port`` ("" = every
    address, dual-stack where IPv6 exists)."""
    family = socket.AF_INET6 if (":" in host or not host) and socket.has_ipv6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6 and not host:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind((host or ("::" if family == socket.AF_INET6 else "0.0.0.0"), port))
        sock.listen(BACKLOG)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


async def serve(mode: mode_specs.ProxyMode, sock: socket.socket) -> asyncio.Server:
    """Serve ``mode`` on ``sock`` exactly as mitmproxy's own listener would."""
    instance = ServerInstance.make(mode, builtin.proxyserver())
    return await asyncio.start_server(instance.handle_stream, sock=sock, backlog=BACKLOG)
