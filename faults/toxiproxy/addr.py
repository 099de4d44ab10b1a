"""Addresses as Toxiproxy (Go's net package) writes them."""

from __future__ import annotations

import ipaddress
import socket

from faults import numbers
from faults.errors import SpecError


def _cut(addr: str) -> str:
    """The address as Go prints it (unquoted), a huge one cut short."""
    return addr if len(addr) <= 80 else f"{addr[:80]}... ({len(addr)} characters)"


def split_hostport(addr: str) -> tuple[str, int]:
    host, sep, port = addr.rpartition(":")
    if not sep:
        raise ValueError(f"address {_cut(addr)}: missing port in address")
    try:
        return host.strip("[]"), numbers.plain(port, "port", 0, 65535)
    except SpecError:
        raise ValueError(f"address {_cut(addr)}: invalid port (0 to 65535, {numbers.RULE})") from None


def resolve(listen: str) -> str:
    """Go's net.ResolveTCPAddr(...).String(): 'localhost:0' -> '127.0.0.1:0'.
    An empty host is loopback here (Toxiproxy: every interface), safe by default."""
    if not listen:
        listen = ":0"
    host, port = split_hostport(listen)
    if not host:
        host = "127.0.0.1"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as e:
            raise ValueError(f"lookup {host}: {e.strerror}") from None
        infos.sort(key=lambda i: i[0] != socket.AF_INET)  # IPv4 first, as Go does
        ip = ipaddress.ip_address(infos[0][4][0])
    return f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"


def free_port(host: str) -> int:
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]
