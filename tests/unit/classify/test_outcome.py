"""Outcome events are an ``Event`` (a StrEnum): records, metadata and flow files
carry exactly the strings they carried before, and no classifier module spells
an event as a bare string any more."""

import json
import re
from pathlib import Path

from mitmproxy.io import tnetstring

from faults.classify import classify_handshake
from faults.classify.outcome import Event, Outcome

CLASSIFY = Path(__file__).resolve().parents[3] / "faults" / "classify"


def test_an_event_serialises_as_its_string():
    o = Outcome(Event.TCP_RST, "network.tcp.reset_by_peer", "x")
    assert json.dumps(o.as_dict()) == json.dumps({"event": "tcp.rst", "entry": "network.tcp.reset_by_peer",
                                                   "summary": "x"})
    assert tnetstring.dumps({"e": Event.H2_GOAWAY}) == tnetstring.dumps({"e": "h2.goaway"})
    assert Event.TLS_ALERT == "tls.alert" and {"tls.alert": 1}[Event.TLS_ALERT] == 1


def test_classifiers_make_events():
    c = classify_handshake({}, raw_action="reset", error="", host="h.test", flushed_alert=None, leaf=None)
    assert c.outcome.event is Event.TLS_RST


def test_no_bare_event_strings_in_the_classifiers():
    values = {e.value for e in Event} - {"unknown"}
    quoted = re.compile(r"""["']([a-z0-9]+\.[a-z_]+)["']""")
    found = [(p.name, m.group(1)) for p in CLASSIFY.rglob("*.py") if p.name != "outcome.py"
             for m in quoted.finditer(p.read_text()) if m.group(1) in values]
    assert found == []
