"""A raw TCP connection through a Toxiproxy proxy (``faults.toxiproxy``) -> the
``Outcome`` of the one HTTP/1.1 exchange it may have carried.

The proxy forwards bytes without parsing them: it knows how the connection ended
(``rst``, ``closed`` by a toxic or the proxy, ``fin``) and how many bytes reached
the client. A reset reads the same whenever it came; a close before any byte reached
the client ends the exchange before its response. Any other end says nothing (a
close after the response cannot be told from a cut mid-response): None.
"""

from __future__ import annotations

from faults.classify.http import connection_end
from faults.classify.outcome import Outcome

ASSUMED = "if the connection carried one HTTP/1.1 exchange"
FACTS = {"protocol": "HTTP/1.1", "reused_connection": False}  # one exchange: on a fresh connection


def outcome_of_connection(*, end: str, bytes_down: int) -> Outcome | None:
    if end == "rst":
        how, phase = "rst", "mid_body" if bytes_down else "before_response"
    elif end == "closed" and not bytes_down:
        how, phase = "fin", "before_response"
    else:
        return None
    o = connection_end(how, phase, FACTS)
    o.facts = {**FACTS, **o.facts, "bytes_down": bytes_down, "assumed": ASSUMED}
    return o
