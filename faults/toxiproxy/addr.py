"""Addresses as Toxiproxy (Go's net package) writes them."""

from __future__ import annotations

import ipaddress
import socket


def split_hostport(addr: str) -> tuple[str, int]:
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"address {addr}: missing port in address" if not sep else f"address {addr}: invalid port")
    return host.strip("[]"), int(port)


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
