"""The classifier on failed TLS handshakes, one row per row of the TLS
table in docs/faults.md: what the addon did -> outcome -> what k6, curl and Python report."""

import datetime

import pytest

from faults import catalog
from faults.classify import classify_handshake
from faults.classify.clients.k6 import cert_error

REJECTED = "The client does not trust the proxy's certificate for h (tlsv1 alert unknown ca)"
NO_CERT = "OpenSSL Error([('SSL routines', '', 'peer did not return a certificate')])"
X509_UA = "x509: unknown authority"


class Leaf:
    not_valid_after_utc = not_valid_before_utc = datetime.datetime(2026, 1, 2, tzinfo=datetime.timezone.utc)


ROWS = [
    # (id, params, kwargs, event, k6 code, k6 text, curl exit, python class)
    *[(f"cert={k}", {"cert": k}, {"error": REJECTED}, "tls.bad_cert", 1310, X509_UA, 60, "SSLCertVerificationError")
      for k in ("untrusted", "self_signed", "incomplete_chain", "sha1")],
    ("cert=wrong_host", {"cert": "wrong_host"}, {"error": REJECTED}, "tls.bad_cert", 1311,
     "x509: certificate doesn't match hostname", 60, "SSLCertVerificationError"),
    ("cert=expired", {"cert": "expired"}, {"error": REJECTED, "leaf": Leaf,
                                           "now": datetime.datetime(2026, 2, 1, tzinfo=datetime.timezone.utc)},
     "tls.bad_cert", 1000, "x509: certificate has expired or is not yet valid: current time 2026-02-01T00:00:00Z "
     "is after 2026-01-02T00:00:00Z", 60, "SSLCertVerificationError"),
    ("cert=weak_key", {"cert": "weak_key"}, {"error": REJECTED}, "tls.bad_cert", 0, "", 60,
     "SSLCertVerificationError"),
    ("handshake=alert", {"handshake": "alert"}, {"raw_action": "alert", "flushed_alert": 112}, "tls.alert", 1010,
     "remote error: tls: unrecognized name", 35, "SSLError"),
    ("handshake=plaintext", {"handshake": "plaintext"}, {"raw_action": "plaintext"}, "tls.plaintext", 1301,
     "tls: first record does not look like a TLS handshake", 35, "SSLError"),
    ("handshake=reset", {"handshake": "reset"}, {"raw_action": "reset"}, "tls.rst", 1220,
     "read: connection reset by peer", 35, "ConnectionResetError"),
    ("handshake=close", {"handshake": "close"}, {"raw_action": "close"}, "tls.fin", 1000, "EOF", 35, "SSLEOFError"),
    ("handshake=stall", {"handshake": "stall"}, {"raw_action": "stall"}, "tls.stall", 1050, "request timeout", 28,
     "TimeoutError"),
    ("client_cert=require, TLS 1.3", {"client_cert": "require"}, {"error": NO_CERT, "flushed_alert": -1},
     "tls.alert", 1010, "remote error: tls: certificate required", 56, "SSLError"),
    ("client_cert=require, TLS 1.2", {"client_cert": "require"}, {"error": NO_CERT, "flushed_alert": 40},
     "tls.alert", 1010, "remote error: tls: handshake failure", 35, "SSLError"),
    ("min_version vs an older client", {"min_version": "1.3"}, {"error": "unsupported protocol", "flushed_alert": 70},
     "tls.alert", 1010, "remote error: tls: protocol version not supported", 35, "SSLError"),
    # a cert fault the client rejected wins over an alert OpenSSL may have left behind
    ("cert + client_cert, client rejected the cert", {"cert": "self_signed", "client_cert": "require"},
     {"error": REJECTED, "flushed_alert": 48}, "tls.bad_cert", 1310, X509_UA, 60, "SSLCertVerificationError"),
]


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_row(row):
    _, params, kw, event, code, text, curl_exit, py = row
    kw = {"raw_action": None, "error": "", **kw}
    c = classify_handshake(params, host="h", **kw)
    assert c.outcome.event == event
    assert (c.k6.error, c.k6.message) == (code, text)
    assert c.entry == catalog.for_k6(code, text).id
    assert c.clients["curl"].error == curl_exit and c.clients["python"].error == py


def test_host_names_appear_in_client_texts():
    c = classify_handshake({"cert": "wrong_host"}, raw_action=None, error=REJECTED, host="h")
    assert "'h'" in c.clients["python"].message and "'h'" in c.clients["curl"].message


def test_weak_key_is_accepted_by_k6():
    c = classify_handshake({"cert": "weak_key"}, raw_action=None, error=REJECTED, host="h")
    assert c.k6.certainty == "likely" and c.outcome.entry == "tls.x509.invalid_certificate"


def test_expired_text_uses_the_leaf():
    bound = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    now = datetime.datetime(2026, 2, 1, tzinfo=datetime.timezone.utc)
    assert cert_error("expired", now, bound) == (
        1000, "x509: certificate has expired or is not yet valid: current time 2026-02-01T00:00:00Z "
              "is after 2026-01-02T03:04:05Z")
    assert "is before" in cert_error("not_yet_valid", now, bound)[1]
