"""faults/classify/tcp.py: a raw TCP connection through a Toxiproxy proxy, read as the one
HTTP/1.1 exchange it may have carried; every profile's report is at most ``likely``."""

import pytest

from faults.classify import classify_connection
from faults.classify.outcome import Event


@pytest.mark.parametrize("end, bytes_down, event, entry", [
    ("rst", 0, Event.TCP_RST, "network.tcp.reset_by_peer"),
    ("rst", 10, Event.TCP_RST, "network.tcp.reset_by_peer"),
    ("closed", 0, Event.TCP_FIN, "network.tcp.closed"),
])
def test_an_end_that_says_something(end, bytes_down, event, entry):
    c = classify_connection(end=end, bytes_down=bytes_down)
    assert (c.outcome.event, c.outcome.entry) == (event, entry)
    assert c.outcome.facts["protocol"] == "HTTP/1.1" and not c.k6.retried  # one exchange: nothing to retry
    assert {r.certainty for r in c.clients.values()} <= {"likely", "uncertain"}
    assert all(r.note.endswith("if the connection carried one HTTP/1.1 exchange") for r in c.clients.values())


@pytest.mark.parametrize("end, bytes_down", [("fin", 0), ("fin", 10), ("closed", 10)])
def test_an_end_that_says_nothing(end, bytes_down):
    assert classify_connection(end=end, bytes_down=bytes_down) is None
