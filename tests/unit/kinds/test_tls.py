"""The ``tls`` kind's grammar, what it tells its addon, connection-flow matching and the
handshake classifier."""

from types import SimpleNamespace

import pytest
from mitmproxy import connection, flowfilter
from mitmproxy.proxy import context as pcontext
from mitmproxy.test import taddons

from faults import plan
from faults import spec
from faults.classify.clients.k6 import GO_ALERT_TEXT
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


def _tls(text):
    return plan.rule_from_option(f"/~d a.test/{text}", 0).fault


@pytest.mark.parametrize("text, error", [
    *((f"tls cert={k}", "client closed after the handshake without a request") for k in tlskind.CERT_KINDS),
    ("tls cert=wrong_host alpn=http1_only", "client closed after the handshake without a request"),
    ("tls alpn=http1_only", None), ("tls max_version=1.2", None), ("tls client_cert=require", None),
])
def test_a_client_leaving_after_the_handshake_is_a_rejection_of_a_bad_cert_only(text, error):
    assert _tls(text).left_without_request() == error


class _Act:
    def __init__(self, fail=False):
        self.asked, self.fail = [], fail

    def leaf(self, cert):
        self.asked.append(cert)
        if self.fail:
            raise OSError("no factory")
        return SimpleNamespace(leaf_cert=f"leaf:{cert}")


@pytest.mark.parametrize("cert, leaf", [("expired", "leaf:expired"), ("not_yet_valid", "leaf:not_yet_valid"),
                                        ("untrusted", None), ("wrong_host", None)])
def test_the_record_names_the_dates_of_a_leaf_out_of_its_validity(cert, leaf):
    act = _Act()
    assert _tls(f"tls cert={cert}").record_leaf(act) == leaf
    assert act.asked == ([cert] if leaf else [])
    assert _tls("tls handshake=close").record_leaf(act) is None


def test_a_leaf_that_cannot_be_made_still_lets_the_record_be_written():
    assert _tls("tls cert=expired").record_leaf(_Act(fail=True)) is None


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



def test_every_alert_has_a_go_text():
    assert set(tlskind.ALERTS.values()) <= set(GO_ALERT_TEXT)
