"""``quic_datagrams drop=F [delay_ms=N] [direction=both|to_client|to_server]``: an HTTP/3
client's UDP path loses a fraction ``drop`` of its datagrams (``drop=1``: every one, "HTTP/3
broken": browsers then fall back to TCP) and delays the others by ``delay_ms``;
``when=established``: from the end of the handshake on (``drop=1``: idle silence, until the
client's idle timeout).

``level = "quic"``: chosen per QUIC connection at its ClientHello (``~d`` matches the SNI,
as for ``tls``) by ``faults/addons/datagrams.py``, which calls ``quic_clienthello`` with a
``DatagramAct``; acts through ``faults.wire.datagrams`` on the QUIC connections of
``reverse:https://`` and ``reverse:http3://`` (the stack ``faults.wire.quic`` builds).
"""

from __future__ import annotations

from faults.errors import SpecError
from faults.kinds import Fault, Param, register


@register
class QuicDatagrams(Fault):
    kind = "quic_datagrams"
    summary = "HTTP/3: drop (a fraction of) or delay the client's QUIC datagrams"
    level = "quic"
    params = {
        "drop": Param(float, default=0.0, min=0, max=1, help="fraction of datagrams dropped (1: all)"),
        "delay_ms": Param(int, default=0, min=0, max=60_000, help="delay for each datagram let through"),
        "direction": Param(str, default="both", choices=("both", "to_client", "to_server")),
        "when": Param(str, default="handshake", choices=("handshake", "established"),
                      help="handshake: from the ClientHello on; established: once the handshake is done "
                           "(drop=1: the connection goes silent until the client's idle timeout)"),
    }

    @classmethod
    def check(cls, params):
        if not params.get("drop") and not params.get("delay_ms"):
            raise SpecError("quic_datagrams needs drop=F (0..1) and/or delay_ms=N")

    def quic_clienthello(self, act):
        act.gate(self.get("drop"), self.get("delay_ms"), self.get("direction"),
                 after_handshake=self.get("when") == "established")
