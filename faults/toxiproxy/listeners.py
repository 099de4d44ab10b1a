"""Each Toxiproxy proxy is a mitmproxy listener, added and removed at runtime.

A proxy listens as ``reverse:tcp://UPSTREAM@HOST:PORT`` (raw TCP, TLS left
raw by ``next_layer``), or ``reverse:http://UPSTREAM@HOST:PORT`` while it has
``http`` toxics (mitmproxy then parses HTTP, so those flows get fault kinds,
annotations and k6 codes). Listeners change with
``ctx.options.update(mode=[...])`` and the proxyserver's ``setup_servers()``;
the user's own modes are kept. Port 0 is resolved here (two proxies on
``@HOST:0`` would be the same mode to mitmproxy), and a failed bind is an API
error, as Toxiproxy's ``listen tcp ...: bind: ...``. Stopping a proxy closes
its live connections (Toxiproxy closes both sides), never just the socket.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import random

from mitmproxy import ctx, exceptions

from faults import plan as planmod
from faults.numbers import shown
from faults.toxiproxy.addr import free_port, resolve, split_hostport
from faults.toxiproxy.api import ApiError, Backend, Proxy, ToxicEntry, http_rule
from faults.wire import links as wire_links
from faults.wire import builtin
from faults.wire.bytestream import Conn, Link

log = logging.getLogger(__name__)
LINGER = 60.0  # seconds a closed connection's links may still deliver held bytes


def connection_rng(seed, proxy: str, n: int) -> random.Random:
    """Seeded: the n-th connection of a proxy draws the same, run after run."""
    return random.Random(f"{seed}/{proxy}/{n}") if seed is not None else random.Random()


class Listeners(Backend):
    def __init__(self, seed=lambda: None, on_conn_end=None):
        self.seed = seed
        self.on_conn_end = on_conn_end
        self.specs: dict[str, str] = {}           # proxy name -> its mode spec
        self.owner: dict[str, str] = {}           # mode spec -> proxy name (live specs, and old ones with conns)
        self.clients: dict[str, dict[str, object]] = {}   # proxy -> client.id -> client
        self.conns: dict[str, Conn] = {}          # client.id -> Conn
        self.proxies: dict[str, Proxy] = {}
        self.plans: dict[str, planmod.Plan] = {}  # proxy -> its http toxics as rules
        self._lock = asyncio.Lock()

    # -- modes -----------------------------------------------------------------------------
    @staticmethod
    def _spec(proxy: Proxy, listen: str) -> str:
        scheme = "http" if any(t.type == "http" for t in proxy.toxics) else "tcp"
        host, port = split_hostport(listen)
        return f"reverse:{scheme}://{proxy.upstream}@{'[' + host + ']' if ':' in host else host}:{port}"

    async def _set_modes(self, add: str | None = None, remove: str | None = None) -> bool:
        modes = [m for m in ctx.options.mode if m != remove]
        if add and add not in modes:
            modes.append(add)
        try:
            ctx.options.update(mode=modes)  # the proxyserver validates, then (re)starts servers
        except exceptions.OptionsError as e:  # e.g. the address of another listener
            log.info(f"toxiproxy: cannot listen: {e}")
            return False
        server = builtin.proxyserver()
        await server.setup_servers()
        if add is None:
            return True
        try:
            inst = server.servers[add]
        except KeyError:
            return False
        return inst.is_running

    def _failure(self, spec: str, host: str, port: int) -> str:
        server = builtin.proxyserver()
        try:
            exc = server.servers[spec].last_exception
        except KeyError:
            exc = None
        why = os.strerror(getattr(exc, "errno", None) or errno.EADDRINUSE).lower()
        return f"listen tcp {host}:{port}: bind: {why}"

    async def start(self, proxy: Proxy) -> str:
        try:
            split_hostport(proxy.upstream)
            if any(c in proxy.upstream for c in "@/ \t\r\n"):  # would change the listener spec's meaning
                raise ValueError("unexpected character")
        except ValueError as e:
            raise ApiError(f"upstream {shown(proxy.upstream)}: {e} (expected HOST:PORT)", 400) from None
        try:
            listen = resolve(proxy.listen)
        except ValueError as e:  # a malformed address is the request's fault: 400, never 500
            raise ApiError(str(e), 400) from None
        host, port = split_hostport(listen)
        async with self._lock:
            for _ in range(3 if port == 0 else 1):  # a free port can be taken before we bind it
                bound = f"{'[' + host + ']' if ':' in host else host}:{port or free_port(host)}"
                spec = self._spec(proxy, bound)
                if spec in ctx.options.mode:
                    raise ApiError(self._failure(spec, host, int(bound.rsplit(':', 1)[1])), 500)
                if await self._set_modes(add=spec):
                    break
                msg = self._failure(spec, host, int(bound.rsplit(":", 1)[1]))
                await self._set_modes(remove=spec)
            else:
                raise ApiError(msg, 500)
            self.specs[proxy.name] = spec
            self.owner[spec] = proxy.name
            self.proxies[proxy.name] = proxy
            self.clients.setdefault(proxy.name, {})
            self._rebuild_plan(proxy)
            log.info(f"toxiproxy: proxy {proxy.name!r} on {bound} -> {proxy.upstream}")
            return bound

    async def stop(self, proxy: Proxy) -> None:
        async with self._lock:
            spec = self.specs.pop(proxy.name, None)
            if spec is not None:
                await self._set_modes(remove=spec)
            self.close_connections(proxy.name, "proxy disabled or deleted")
            self.clients.pop(proxy.name, None)
            for s in [s for s, n in self.owner.items() if n == proxy.name]:
                del self.owner[s]
            self.plans.pop(proxy.name, None)
            self.proxies.pop(proxy.name, None)
            log.info(f"toxiproxy: proxy {proxy.name!r} stopped")

    def close_connections(self, name: str, why: str) -> None:
        for cid, client in list(self.clients.get(name, {}).items()):  # not yet linked ones too
            conn = self.conns.get(cid)
            if conn is not None:
                conn.abort(why)
            wire_links.close(client)
        self.shutdown_all(why, name)

    # -- toxics -----------------------------------------------------------------------------
    def _rule(self, entry: ToxicEntry, i: int) -> planmod.Rule:
        return http_rule(entry, i, self.seed())

    def _rebuild_plan(self, proxy: Proxy) -> None:
        rules = [self._rule(t, i) for i, t in enumerate(proxy.toxics) if t.type == "http"]
        self.plans[proxy.name] = planmod.Plan(rules, self.seed())

    async def toxics_changed(self, proxy: Proxy, removed=()) -> None:
        self._rebuild_plan(proxy)
        for cid in list(self.clients.get(proxy.name, {})):
            conn = self.conns.get(cid)
            if conn is not None:
                self._apply(conn, proxy, removed)
        spec = self.specs.get(proxy.name)
        if spec is not None and spec != self._spec(proxy, spec.rsplit("@", 1)[1]):
            # http toxics added or all removed: re-listen on the same port in the
            # other mode, before the API answers (the client's next connection uses it)
            await self._switch(proxy, spec)

    async def _switch(self, proxy: Proxy, old: str) -> None:
        async with self._lock:
            if self.specs.get(proxy.name) != old:
                return
            new = self._spec(proxy, old.rsplit("@", 1)[1])
            modes = [new if m == old else m for m in ctx.options.mode]
            ctx.options.update(mode=modes)
            await builtin.proxyserver().setup_servers()
            self.specs[proxy.name] = new
            self.owner[new] = proxy.name

    @staticmethod
    def _apply(conn: Conn, proxy: Proxy, removed=(), only: str | None = None) -> None:
        for direction, link in conn.links.items():
            if only is not None and direction != only:
                continue
            link.set_toxics([(t.name, t.toxic, t.toxicity) for t in proxy.toxics
                             if t.direction == direction and t.type != "http"], removed)

    # -- connections (called from the addon's hooks) -----------------------------------------
    def proxy_of(self, client) -> str | None:
        mode = getattr(client, "proxy_mode", None)
        return self.owner.get(mode.full_spec) if mode is not None else None

    def is_ours(self, client) -> bool:
        return self.proxy_of(client) is not None

    def is_tcp(self, client) -> bool:
        mode = getattr(client, "proxy_mode", None)
        return mode is not None and mode.full_spec.startswith("reverse:tcp://") and mode.full_spec in self.owner

    def client_connected(self, client) -> None:
        name = self.proxy_of(client)
        if name is None or name not in self.proxies:
            return
        self.clients.setdefault(name, {})[client.id] = client
        proxy = self.proxies[name]
        proxy.connections += 1
        conn = Conn(name, connection_rng(self.seed(), name, proxy.connections), lambda: wire_links.reset(client))
        conn.n, conn.client = proxy.connections, client
        conn.listen, conn.upstream = proxy.listen, proxy.upstream
        # the downstream link from the first byte (TLS handshakes included), as
        # Toxiproxy links at accept; the upstream one once the server is connected
        if wire_links.link_client(client, lambda d, raw: self._link(conn, d, raw)):
            self.conns[client.id] = conn
            self._apply(conn, proxy)

    def server_connected(self, client, server) -> None:
        conn = self.conns.get(client.id)
        if conn is not None and conn.end is not None:
            # over before its server answered (its proxy deleted or disabled meanwhile):
            # nothing is relayed, and the late socket is closed like the client's was
            wire_links.close(client)
            return
        proxy = self.proxies.get(conn.proxy_name) if conn is not None else None
        if proxy is not None and wire_links.link_server(client, server, lambda d, raw: self._link(conn, d, raw)):
            self._apply(conn, proxy, only="upstream")

    @staticmethod
    def _link(conn: Conn, direction: str, raw) -> Link:
        link = Link(conn, direction, raw)
        conn.add(link)
        return link

    def client_disconnected(self, client) -> None:
        name = self.proxy_of(client)
        if name is not None:
            self.clients.get(name, {}).pop(client.id, None)
        conn = self.conns.get(client.id)
        if conn is not None:
            # its links may still deliver what toxics hold (latency, slow_close): let
            # them, for at most LINGER seconds, then close what is left
            asyncio.get_running_loop().create_task(self._linger(client.id, conn))

    async def _linger(self, cid: str, conn: Conn) -> None:
        try:
            await asyncio.wait_for(conn.done.wait(), LINGER)
        except TimeoutError:
            conn.shutdown(f"still held {LINGER:.0f} s after mitmproxy closed it")
        finally:
            if self.conns.get(cid) is conn:
                del self.conns[cid]
            if self.on_conn_end is not None:
                self.on_conn_end(conn)

    def shutdown_all(self, why: str, proxy: str | None = None) -> None:
        """Close every connection (of ``proxy``), lingering ones included."""
        for cid, conn in list(self.conns.items()):
            if proxy is None or conn.proxy_name == proxy:
                client = getattr(conn, "client", None)
                conn.shutdown(why)
                if client is not None:
                    wire_links.close(client)
