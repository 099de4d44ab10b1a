"""A UDP client that comes back from the same port is served again (``faults.wire.udpreturn``).

mitmproxy_rs keeps a closed UDP four-tuple for 60 s and dropped every datagram of a new
connection from it: an HTTP/3 client's handshake timed out with no flow and no record, a DNS
query got no answer. A kernel may hand a recent port back. aioquic's client here is given one
port for all of its connections, the second of which a ``quic_close`` fault ends, as a client
retrying after that fault would; a DNS client sends from one socket a query, a message
mitmproxy's DNS layer refuses (it closes the connection), then two more queries."""

from __future__ import annotations

import socket
import struct

from faults.tools.launch import ProxyProcess
from faults.tools.upstream import Upstream
from tests.e2e.dns_support import dns_proxy
from tests.e2e.h3clients import aioquic_many
from tests.e2e.waiting import by_case, wait_for_records
from tests.waiting import wait_until

SPECS = [None, "quic_close code=PROTOCOL_VIOLATION space=transport reason=fault", None, None]


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
        s.bind(("::", 0, 0, 0))
        return s.getsockname()[1]


def test_a_client_back_on_its_port_is_served(tmp_path):
    rep = tmp_path / "report.jsonl"
    port = _free_udp_port()
    seen = []
    with Upstream(tls=True) as up:
        with ProxyProcess(mode=f"reverse:{up.url}", options={"fault_header": True, "fault_report": str(rep),
                                                             "ssl_insecure": True}) as px:
            for i, spec in enumerate(SPECS):
                headers = {"x-fault": spec} if spec else {}
                try:
                    (res,) = aioquic_many(px.port, px.ca_file, [(f"/x?size=10&case=same{i}", headers)], timeout=3,
                                          local_port=port)
                except ConnectionError:  # no handshake within the client's idle timeout: no answer
                    res = ("error", "ConnectionError", None)
                seen.append(res)
            recs = by_case(wait_for_records(rep, lambda rs: len(by_case(rs)) >= len(SPECS), "a record of each"))
        assert px.proc.returncode == 0, px.log()[-3000:]
    assert seen[1][:2] == ("error", "ConnectionTerminated"), seen
    assert [r[:2] for i, r in enumerate(seen) if i != 1] == [("ok", 200)] * 3, (seen, px.log()[-3000:])
    firsts = [recs[f"same{i}"][0] for i in range(len(SPECS))]
    assert all(r["http_version"] == "HTTP/3" for r in firsts), firsts
    assert len({r["conn"] for r in firsts}) == len(SPECS), firsts  # four connections, one port
    assert firsts[1]["outcome"]["event"].startswith("h3."), firsts[1]["outcome"]


def _query(qid: int, name: str = "localhost") -> bytes:
    """A DNS query (RFC 1035 4.1): A record of ``name``, recursion desired."""
    qname = b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\x00"
    return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname + struct.pack(">HH", 1, 1)


def test_a_dns_client_back_on_its_port_is_answered(tmp_path):
    answers = []
    with Upstream() as up, dns_proxy(up.url, tmp_path / "report.jsonl", []) as px:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            s.settimeout(5)
            for qid, payload in [(1, _query(1)), (None, b"\x07"), (2, _query(2)), (3, _query(3))]:
                s.sendto(payload, (px.ns, 53))
                if qid is None:  # refused: mitmproxy closes this connection; wait until it said so
                    wait_until(lambda: "sent an invalid message" in px.log(), 10, "the invalid message refused")
                    continue
                try:
                    data, _ = s.recvfrom(4096)
                    answers.append(struct.unpack(">HHHH", data[:8])[0::3])  # id, answer count
                except socket.timeout:
                    answers.append((qid, "no answer"))
    assert answers == [(1, 1), (2, 1), (3, 1)], (answers, px.log()[-2000:])
