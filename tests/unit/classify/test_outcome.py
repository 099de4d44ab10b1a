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


def facts(event=Event.TCP_RST, **kw) -> Outcome:
    return Outcome(event, "x", facts=kw)


def test_the_protocol_facts():
    assert facts(protocol="HTTP/2.0").h2 and not facts(protocol="HTTP/1.1").h2 and not facts().h2
    assert facts(protocol="HTTP/3").h3 and not facts(protocol="HTTP/2.0").h3
    # an HTTP/2 frame fault's fallback on an HTTP/1.1 flow still involves HTTP/2
    assert facts(Event.H2_FALLBACK, protocol="HTTP/1.1").involves_h2 and not facts(protocol="HTTP/1.1").involves_h2
    assert facts(Event.TLS_ALERT).family == "tls" and Outcome("dns.drop", "x").family == "dns"  # a bare string too
    assert facts(Event.H2_FALLBACK).tcp_reset and facts(Event.TCP_RST).tcp_reset and not facts(Event.TCP_FIN).tcp_reset


def test_the_phase_facts():
    assert facts().phase is None and facts().before_response  # not recorded: before any response byte
    assert facts(phase="before_response").before_response and not facts(phase="mid_body").before_response
    assert facts(body_sent=None, body_announced=10).short_body and not facts(body_sent=10, body_announced=10).short_body
    assert not facts(body_sent=5).short_body
    assert facts(reused_connection=True).reused and not facts().reused


def test_does_the_goaway_cover_this_stream():
    goaway = lambda **kw: facts(Event.H2_GOAWAY, **kw)  # noqa: E731
    assert goaway(stream_id=1, last_stream=1).goaway_covers and not goaway(stream_id=3, last_stream=1).goaway_covers
    assert not goaway(stream_id=None, last_stream=0).goaway_covers  # unknown: stream 1
    assert goaway(stream_id=None, last_stream=1).goaway_covers
    assert facts(Event.H3_GOAWAY, covered=True).goaway_covers and not facts(Event.H3_GOAWAY).goaway_covers
    # spared: it came after the response, or a drain that covered it
    assert goaway(phase="after_response", stream_id=9, last_stream=1).goaway_spared
    assert goaway(then="drain", stream_id=1, last_stream=1).goaway_spared
    assert not goaway(then="drain", stream_id=3, last_stream=1).goaway_spared
    assert not goaway(then="close", stream_id=1, last_stream=1).goaway_spared


PROFILES = CLASSIFY / "clients"
# what the outcome computes once: a profile that spells it again recomputes it
RECOMPUTED = re.compile(r"""get\("(protocol|phase|covered|reused_connection|h3_error|hold_end|cut_held)"|"then"\) == "drain"|startswith\("HTTP/"""
                        r"""|body_announced|\.get\("last_stream", 0\)[^\n]*<=|event\.(split|startswith)\("""
                        r"""|TCP_RST, Event\.H2_FALLBACK\)""")


def test_no_profile_recomputes_a_fact_the_outcome_names():
    found = [(p.name, m.group(0)) for p in PROFILES.glob("*.py") for m in RECOMPUTED.finditer(p.read_text())]
    assert found == []
