"""The ``tls`` kind's grammar, connection-flow matching and the handshake classifier."""

import pytest
from mitmproxy import connection, flowfilter
from mitmproxy.proxy import context as pcontext
from mitmproxy.test import taddons

from faults import plan
from faults import spec
from faults.classify.tls import GO_ALERT_TEXT, classify_handshake, k6_cert_error
from faults.kinds import tls as tlskind
from faults.spec import SpecError
from faults.addons.tls import connection_flow
from faults.wire.tls import alert_record, last_alert as _last_alert


@pytest.mark.parametrize("text", [
    *(f"tls cert={k}" for k in tlskind.CERT_KINDS),
    "tls handshake=alert", "tls handshake=alert alert=protocol_version", "tls handshake=plaintext",
    "tls handshake=reset", "tls handshake=close", "tls handshake=stall", "tls handshake=stall stall_ms=500",
    "tls client_cert=require", "tls alpn=http1_only", "tls max_version=1.2", "tls min_version=1.3",
    "tls cert=expired max_version=1.2 alpn=http1_only", "tls cert=untrusted client_cert=require",
    "tls min_version=1.2 max_version=1.2",
])
def test_valid_specs(text):
    s, _ = spec.parse(text)
    assert s.kind == "tls"
    assert spec.parse(s.text)[0] == s  # canonical text round-trips


@pytest.mark.parametrize("text, msg", [
    ("tls", "needs one of"),
    ("tls cert=bogus", "expected one of"),
    ("tls handshake=alert cert=expired", "cannot be combined"),
    ("tls cert=expired alert=handshake_failure", "needs handshake=alert"),
    ("tls handshake=alert alert=nope", "expected one of"),
    ("tls handshake=reset stall_ms=10", "needs handshake=stall"),
    ("tls min_version=1.3 max_version=1.2", "above"),
    ("tls max_version=1.4", "expected one of"),
    ("tls colour=red cert=expired", "unknown key"),
])
def test_invalid_specs(text, msg):
    with pytest.raises(SpecError, match=msg):
        spec.parse(text)


def test_connection_level_and_option_rule():
    rule = plan.rule_from_option("/~d expired.test/tls cert=expired first=1", 0)
    assert rule.fault.level == "connection" and rule.first == 1
    assert rule.fault.alert_code == 40  # default alert: handshake_failure


def _context(sni_host, server=("10.1.2.3", 8443), peer=("127.0.0.9", 5555)):
    client = connection.Client(peername=peer, sockname=("127.0.0.1", 8080), timestamp_start=0)
    client.sni = sni_host
    ctx = pcontext.Context(client, None)
    ctx.server = connection.Server(address=server)
    return ctx


@pytest.mark.parametrize("expr, hit", [
    ("~d expired.test", True), ("~d other.test", False), ("~d ^expired\\.test$", True),
    ("~dst 10.1.2.3", True), ("~dst 10.9.9.9", False), ("~src 127.0.0.9", True), ("~src 127.0.0.1$", False),
    ("~d expired.test & !~src 127.0.0.9", False), ("~d nope | ~dst 8443", True),
    ("~q", True), ("~s", False), ("~h x-fault", False), ("~b foo", False), ("~u ^https://expired.test:8443/$", True),
])
def test_filters_on_a_connection(expr, hit):
    with taddons.context():
        flow = connection_flow(_context("expired.test"), "expired.test")
        assert bool(flowfilter.parse(expr)(flow)) is hit


def test_alert_bytes():
    assert alert_record(112) == bytes.fromhex("15030300020270")
    assert _last_alert(alert_record(40)) == 40
    assert _last_alert(b"\x16\x03\x03\x00\x01\x00" + alert_record(70)) == 70
    assert _last_alert(b"\x17\x03\x03\x00\x13" + b"\x00" * 19) == -1
    assert _last_alert(b"") is None


def test_classify_raw_actions():
    v = classify_handshake({"handshake": "alert", "alert": "unrecognized_name"}, raw_action="alert",
                           error="", host="h", flushed_alert=112)
    assert (v.k6_error_code, v.k6_error) == (1010, "remote error: tls: unrecognized name")
    assert v.facts["clients"]["python"]["reason"] == "tlsv1 unrecognized name"
    assert classify_handshake({}, raw_action="plaintext", error="", host="h").k6_error_code == 1301
    assert classify_handshake({}, raw_action="reset", error="", host="h").k6_error_code == 1220
    assert classify_handshake({}, raw_action="close", error="", host="h").k6_error == "EOF"
    assert classify_handshake({}, raw_action="stall", error="", host="h").k6_error_code == 1050


def test_classify_cert_and_mtls():
    rejected = "The client does not trust the proxy's certificate for h (tlsv1 alert unknown ca)"
    v = classify_handshake({"cert": "untrusted"}, raw_action=None, error=rejected, host="h")
    assert (v.k6_error_code, v.k6_error) == (1310, "x509: unknown authority")
    v = classify_handshake({"cert": "wrong_host"}, raw_action=None, error=rejected, host="h")
    assert v.k6_error_code == 1311 and "'h'" in v.facts["clients"]["python"]["reason"]
    v = classify_handshake({"cert": "weak_key"}, raw_action=None, error=rejected, host="h")
    assert v.k6_error_code == 0 and v.certainty == "likely"
    no_cert = "OpenSSL Error([('SSL routines', '', 'peer did not return a certificate')])"
    v = classify_handshake({"client_cert": "require"}, raw_action=None, error=no_cert, host="h", flushed_alert=-1)
    assert v.k6_error == "remote error: tls: certificate required"
    v = classify_handshake({"client_cert": "require"}, raw_action=None, error=no_cert, host="h", flushed_alert=40)
    assert v.k6_error == "remote error: tls: handshake failure"
    # a cert fault the client rejected wins over an alert OpenSSL may have left behind
    v = classify_handshake({"cert": "self_signed", "client_cert": "require"}, raw_action=None,
                           error=rejected, host="h", flushed_alert=48)
    assert v.k6_error_code == 1310


def test_expired_text_uses_the_leaf():
    import datetime

    class Leaf:
        not_valid_after_utc = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
        not_valid_before_utc = not_valid_after_utc

    now = datetime.datetime(2026, 2, 1, tzinfo=datetime.timezone.utc)
    assert k6_cert_error("expired", "h", Leaf, now) == (
        1000, "x509: certificate has expired or is not yet valid: current time 2026-02-01T00:00:00Z "
              "is after 2026-01-02T03:04:05Z")
    assert "is before" in k6_cert_error("not_yet_valid", "h", Leaf, now)[1]


def test_every_alert_has_a_go_text():
    assert set(tlskind.ALERTS.values()) <= set(GO_ALERT_TEXT)
