"""faults/classify/fields.py: a classification as record fields, and what a record counts
as (fault_metrics and the HTML report share these)."""

from faults.classify import classify_connection
from faults.classify.fields import client_errors, k6_code_label, k6_fields


def test_the_outcome_label_and_client_errors_of_a_record():
    assert k6_code_label({"record": "flow", "k6_error_code": 1503}) == "1503"
    assert k6_code_label({"record": "websocket"}) == "ws"
    assert k6_code_label({"record": "connection", "k6_error_code": None}) == "none"
    assert k6_code_label({"record": "flow", "k6_error_code": None, "http_version": "HTTP/3"}) == "h3"
    clients = {"k6": {"error": 0}, "curl": {"error": 56}, "httpx": {"error": None}, "node": {"error": "ok"},
               "chromium": {"error": "net::ERR_EMPTY_RESPONSE"}, "odd": "not a dict"}
    assert list(client_errors(clients)) == [("curl", "56"), ("chromium", "net::ERR_EMPTY_RESPONSE")]


def test_k6_fields_of_a_classification_and_of_none():
    c = classify_connection(end="rst", bytes_down=0)
    assert k6_fields(c) == {"k6_error_code": c.k6.error, "k6_error": c.k6.message, "certainty": c.k6.certainty,
                            "note": c.k6.note}
    assert k6_fields(None) == {"k6_error_code": None, "k6_error": None, "certainty": None, "note": None}
