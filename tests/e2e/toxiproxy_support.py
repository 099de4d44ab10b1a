"""Shared by the Toxiproxy client tests: the proxy with the API on a free port,
a TCP echo upstream that notes when bytes arrive, small socket helpers."""

from __future__ import annotations

import re
import socket
import threading
import time

from faults.tools.launch import ADDON, ProxyProcess
from tests.e2e.waiting import socket_inodes, wait_until

API_RE = re.compile(r"toxiproxy API listening at http://[\d.]+:(\d+)")


def start_toxiproxy(tmp_dir, addon=ADDON, **options) -> ProxyProcess:
    """mitmdump with the addon (``addon``: the script), the Toxiproxy API on 127.0.0.1:0 (read back from its log)."""
    px = ProxyProcess("regular", {"toxiproxy_api": "127.0.0.1:0", "fault_report": str(tmp_dir / "report.jsonl"),
                                  **options}, addon=addon)
    px.report_path = tmp_dir / "report.jsonl"
    px.start()
    port = wait_until(lambda: next((m.group(1) for ln in list(px.lines) if (m := API_RE.search(ln))), None), 10,
                      "the Toxiproxy API's address in the proxy's log", fail=False)
    if port is None:
        px.stop()
        raise RuntimeError("the Toxiproxy API did not start:\n" + px.log()[-2000:])
    px.api_port = int(port)
    return px


class Echo:
    """TCP echo on 127.0.0.1:0; ``arrivals`` holds (time, bytes) of what it received."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.addr = f"127.0.0.1:{self.port}"
        self.arrivals: list[tuple[float, bytes]] = []
        self._conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self._conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        with c:
            while True:
                try:
                    d = c.recv(65536)
                except OSError:
                    return
                if not d:
                    return
                self.arrivals.append((time.monotonic(), d))
                try:
                    c.sendall(d)
                except OSError:
                    return

    def close(self):
        self.sock.close()
        for c in self._conns:
            try:
                c.close()
            except OSError:
                pass


def connect(listen: str, timeout: float = 5.0) -> socket.socket:
    host, port = listen.rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=timeout)


def recv_exactly(s: socket.socket, n: int, timeout: float = 5.0) -> tuple[bytes, int]:
    """Read n bytes (or until EOF); returns the bytes and how many recv calls it took."""
    s.settimeout(timeout)
    out, calls = b"", 0
    while len(out) < n:
        d = s.recv(65536)
        calls += 1
        if not d:
            break
        out += d
    return out, calls


def round_trip(listen: str, data: bytes = b"hello", timeout: float = 5.0) -> tuple[bytes, float]:
    with connect(listen, timeout) as s:
        t0 = time.monotonic()
        s.sendall(data)
        got, _ = recv_exactly(s, len(data), timeout)
        return got, time.monotonic() - t0


def connecting_to(pid: int, port: int) -> bool:
    """Whether process ``pid`` has a TCP connect to 127.0.0.1:``port`` under way (SYN_SENT)."""
    inodes = socket_inodes(pid)
    with open(f"/proc/{pid}/net/tcp") as fh:
        next(fh)
        return any(c[2] == f"0100007F:{port:04X}" and c[3] == "02" and c[9] in inodes
                   for c in (line.split() for line in fh))
