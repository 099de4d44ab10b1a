"""A DNS-mode proxy for the end-to-end tests: mitmproxy's DNS mode on a free loopback
address (port 53: resolv.conf cannot name a port), clients given a resolv.conf that
points at it in a private mount namespace (``k6run.private_resolv``)."""

from __future__ import annotations

import random
import socket

from faults.tools.launch import ProxyProcess


def free_dns_address(tries: int = 50) -> str:
    """A 127.53.x.y address where nothing holds port 53 (UDP and TCP)."""
    rng = random.Random()
    for _ in range(tries):
        addr = f"127.53.{rng.randint(1, 254)}.{rng.randint(1, 254)}"
        ok = True
        for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
            s = socket.socket(socket.AF_INET, kind)
            try:
                s.bind((addr, 53))
            except OSError:
                ok = False
            finally:
                s.close()
        if ok:
            return addr
    raise RuntimeError("no free loopback address for the DNS mode")


def resolv_conf(ns: str) -> str:
    # timeout:1 so an unanswered query costs k6 seconds, not 10 (2 attempts x 5 s)
    return f"nameserver {ns}\noptions timeout:1\n"


def dns_proxy(upstream_url: str, report, faults: list[str], **options) -> ProxyProcess:
    ns = free_dns_address()
    px = ProxyProcess(mode=f"reverse:{upstream_url}", extra_args=["--mode", f"dns@{ns}:53"],
                      options={"fault_report": str(report), "faults": faults, **options})
    px.ns, px.report_path = ns, report
    return px
