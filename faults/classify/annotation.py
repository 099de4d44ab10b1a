"""The annotation: a flow's error object, from the catalog entry k6's report names."""

from __future__ import annotations

from mitmproxy import http

from faults import catalog
from faults.classify import Classification


def annotation(flow: http.HTTPFlow, c: Classification) -> dict:
    """The flow's error object (seed 003's shape: status, message, id, code)
    with every taxonomy's name for it, from the catalog entry the k6 profile named."""
    k6 = c.k6
    obj = catalog.error_object(catalog.by_id(c.entry), k6.message or None)
    code = k6.error
    if flow.response is not None and code is not None and (code == 0 or 1100 <= code - 300 < 1700):  # k6 saw the status
        obj["status"] = flow.response.status_code
    grpc = c.clients.get("grpcio")
    if grpc is not None:
        obj["grpc_status"] = {"name": grpc.error, "value": grpc.extra["value"]}
    obj["certainty"] = k6.certainty
    h3 = c.outcome.facts.get("h3_error")
    if h3 is not None:
        obj["http3_error"] = dict(h3)
    return obj
