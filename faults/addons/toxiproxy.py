"""Toxiproxy's API served from this proxy (``faults.toxiproxy``), off by default.

Options: ``toxiproxy_api`` (HOST:PORT to serve the API on; Toxiproxy's default
is 127.0.0.1:8474; no authentication, as Toxiproxy: keep it on loopback),
``toxiproxy_config`` (a JSON file of proxies, Toxiproxy's ``-config``, made at
start), ``toxiproxy_seed`` (toxicity, jitter and slicer draws per connection
reproducible; ``http`` toxics use it as their rules' seed).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Optional

from mitmproxy import ctx, exceptions

from faults.addons import succession
from faults.addons.startup import one_line_at_start
from faults.classify import classify_connection
from faults.report import connection_record
from faults.toxiproxy import httpd
from faults.toxiproxy.api import PROXY_FIELDS, Api, ApiError, assign, first_value
from faults.toxiproxy.addr import split_hostport
from faults.toxiproxy.listeners import Listeners
from faults.wire import links as wire_links
from faults.wire import servers

log = logging.getLogger(__name__)


class ToxiproxyApi:
    name = "toxiproxy"

    def __init__(self, classifier=None):
        self.classifier = classifier  # its report gets one record per raw connection (FaultAddon)
        self.listeners = Listeners(seed=lambda: ctx.options.toxiproxy_seed, on_conn_end=self._record)
        self.api = Api(self.listeners)
        self.server: asyncio.Server | None = None
        self._started = False
        self._config: bytes | None = None
        self._adopted = False  # a script reload's addon: it serves what the old one served (load)

    def load(self, loader):
        self._take_over()
        loader.add_option("toxiproxy_api", str, "",
                          "Serve Toxiproxy's HTTP API on HOST:PORT (e.g. 127.0.0.1:8474). Off when empty. "
                          "No authentication, as Toxiproxy: keep it on loopback.")
        loader.add_option("toxiproxy_config", str, "",
                          "JSON file of Toxiproxy proxies to create at start (Toxiproxy's -config).")
        loader.add_option("toxiproxy_seed", Optional[int], None,
                          "Seed for the toxicity, jitter and slicer draws of Toxiproxy proxies (per proxy and "
                          "connection number) and for http toxics.")

    @one_line_at_start
    def configure(self, updated):
        workers = getattr(ctx.options, "fault_worker_dir", "")  # set by faults proxy --workers N
        if workers and (ctx.options.toxiproxy_api or ctx.options.toxiproxy_config):
            # a Toxiproxy proxy is a runtime mitmproxy listener, and workers run with server=false
            raise exceptions.OptionsError(
                f"{'toxiproxy_api' if ctx.options.toxiproxy_api else 'toxiproxy_config'}: Toxiproxy's API cannot run "
                "in faults proxy --workers N (its proxies are mitmproxy listeners, which workers turn off): "
                "serve it from a separate single proxy")
        if "toxiproxy_api" in updated and ctx.options.toxiproxy_api:
            try:
                split_hostport(ctx.options.toxiproxy_api)
            except ValueError as e:
                raise exceptions.OptionsError(f"toxiproxy_api: {e} (expected HOST:PORT)") from None
        if "toxiproxy_config" in updated and ctx.options.toxiproxy_config:
            path = Path(ctx.options.toxiproxy_config).expanduser()
            try:
                data = path.read_bytes()
            except OSError as e:
                raise exceptions.OptionsError(f"toxiproxy_config: cannot read {path}: {e.strerror}") from None
            try:
                doc = first_value(data)
                if not isinstance(doc, list):
                    raise ApiError("expected a JSON list of proxies", 400)
                for i, item in enumerate(doc, 1):  # Toxiproxy logs these and starts anyway; we refuse
                    d = assign(item, "Proxy", PROXY_FIELDS, {"name": "", "upstream": ""})
                    if not d["name"] or not d["upstream"]:
                        raise ApiError(f"proxy {i}: missing required field {'name' if not d['name'] else 'upstream'}", 400)
            except ApiError as e:
                raise exceptions.OptionsError(
                    f"toxiproxy_config: {path}: {e.message.removeprefix('bad request body: ')}") from None
            self._config = data
        if self._started and "toxiproxy_api" in updated:
            asyncio.get_running_loop().create_task(self._serve())
        if self._started and "toxiproxy_config" in updated and self._config:
            asyncio.get_running_loop().create_task(self._populate())

    def _take_over(self) -> None:
        """A script reload keeps the Toxiproxy API as it was: the old addon's API server (the
        same port, also one asked as port 0), its proxies (runtime mitmproxy listeners, which
        the reload leaves open: new, empty ones would leave them serving without their toxics,
        their ports taken) and their live connections become this addon's."""
        old = succession.take_over(self)
        if old is None or not old._started:
            return
        self.listeners, self.api, self.server, self._config = old.listeners, old.api, old.server, old._config
        self.listeners.on_conn_end = self._record  # records go to this addon's report
        self._adopted = True

    def running(self):
        self._started = True
        if self._adopted:  # a reload: the API serves on, its proxies exist
            if self.server is not None or self.api.proxies:
                where = self.server.sockets[0].getsockname() if self.server is not None else None
                log.info(f"toxiproxy: kept across the script reload: proxies: {len(self.api.proxies)}"
                         + (f", the API at http://{where[0]}:{where[1]}" if where else ""))
            return None
        return self._start()

    async def _start(self):
        if self._config:
            await self._populate()
        await self._serve()

    async def _populate(self):
        proxies, err = await self.api.populate(self._config)
        if err:
            log.error(f"toxiproxy_config: {err.message}")
        else:
            log.info(f"toxiproxy_config: {len(proxies)} proxies")

    async def _serve(self):
        if self.server is not None:
            await httpd.close(self.server)
            self.server = None
        addr = ctx.options.toxiproxy_api
        if not addr:
            return
        host, port = split_hostport(addr)
        try:
            self.server = await httpd.start(self.api.handle, host or "127.0.0.1", port)
        except OSError as e:
            log.error(f"toxiproxy_api: cannot listen on {addr}: {e.strerror}")
            return
        bound = self.server.sockets[0].getsockname()
        log.info(f"toxiproxy API listening at http://{bound[0]}:{bound[1]}")

    async def done(self):
        if not servers.exiting():  # a script reload: the new addon takes everything over (load)
            return
        if self.server is not None:
            await httpd.close(self.server)
            self.server = None
        for name in list(self.listeners.specs):
            self.listeners.close_connections(name, "shutdown")
        self.listeners.shutdown_all("shutdown")

    # -- traffic ------------------------------------------------------------------------
    def select(self, flow):
        """The injector's selector (``FaultAddon`` hands it over): a proxy's http toxics."""
        if not self.listeners.plans:  # no http toxic anywhere: every flow's answer is None
            return None
        name = self.listeners.proxy_of(flow.client_conn)
        plan = self.listeners.plans.get(name) if name else None
        return plan.select(flow, level="flow") if plan and plan.rules else None

    def next_layer(self, nextlayer):
        # a Toxiproxy proxy forwards bytes: TLS stays raw, nothing is parsed
        if self.listeners.is_tcp(nextlayer.context.client):
            wire_links.raw_tcp(nextlayer)

    def client_connected(self, client):
        self.listeners.client_connected(client)

    def server_connected(self, data):
        # raw toxics on http-mode proxies too; not by the client's listener: one deleted
        # while this server connected still has the connection (Listeners closes it)
        self.listeners.server_connected(data.client, data.server)

    def tcp_message(self, flow):
        if len(flow.messages) > 64 and self.listeners.proxy_of(flow.client_conn):
            del flow.messages[:-16]  # a long-lived connection must not keep every chunk

    def client_disconnected(self, client):
        self.listeners.client_disconnected(client)

    def _record(self, conn):
        """One report record per connection, once its links are done."""
        report = getattr(self.classifier, "report", None)
        metrics = getattr(self.classifier, "metrics", None)
        if report is None and metrics is None:
            return
        client, end = conn.client, conn.end or "fin"
        bytes_down = conn.links["downstream"].bytes if "downstream" in conn.links else 0
        rec = connection_record(
            classify_connection(end=end, bytes_down=bytes_down),
            proxy=conn.proxy_name, listen=conn.listen, upstream=conn.upstream,
            client=f"{client.peername[0]}:{client.peername[1]}" if client.peername else None,
            n=conn.n, end=end, why=conn.why,
            bytes_up=conn.links["upstream"].bytes if "upstream" in conn.links else 0,
            bytes_down=bytes_down,
            toxics={d: [s.name for s in link.stubs if s.active] for d, link in conn.links.items()},
        )
        if report is not None:
            report.write(rec)
        if metrics is not None:
            metrics.record(rec)
