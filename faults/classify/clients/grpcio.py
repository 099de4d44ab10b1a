"""grpcio (C-core) on a gRPC call: the status it reports, as measured in
``tests/e2e/test_grpc.py``. Only for flows whose content-type is application/grpc."""

from __future__ import annotations

from faults import catalog
from faults.classify.outcome import ClientReport, Event, Outcome

NAME = "grpcio"
# RST_STREAM code -> status (the gRPC spec's mapping, measured): every other code is INTERNAL
FOR_RST = {0x7: "UNAVAILABLE", 0x8: "CANCELLED", 0xB: "RESOURCE_EXHAUSTED", 0xC: "PERMISSION_DENIED"}
FOR_VIOLATION = {
    "data_on_idle_stream": "UNAVAILABLE",  # grpcio ignores the frame; our close ends the call
    "oversized_frame": "UNKNOWN",  # "Failed parsing HTTP/2 (Frame size ... is larger than max frame size)"
    "window_overflow": "UNAVAILABLE",  # the close ends the call
    "bad_hpack": "INTERNAL",  # "Failed parsing HTTP/2 (Illegal hpack op code)"
}


def status(name: str, **kw) -> ClientReport:
    return ClientReport(NAME, name, entry=f"grpc.status.{name.lower()}", extra={"value": catalog.grpc_code(name)},
                        **kw)


# an HTTP status other than 200 on a gRPC call -> the status grpcio reports (the gRPC spec's table)
FOR_HTTP = {400: "INTERNAL", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "UNIMPLEMENTED",
            429: "UNAVAILABLE", 502: "UNAVAILABLE", 503: "UNAVAILABLE", 504: "UNAVAILABLE"}


def report(o: Outcome) -> ClientReport | None:
    f, ev = o.facts, o.event
    if not f.get("grpc"):
        return None
    if o.tcp_reset:
        return status("UNAVAILABLE", message="Stream removed (recvmsg:Connection reset by peer)")
    if ev == Event.TCP_FIN:
        r = status("UNAVAILABLE", message="Stream removed (Socket closed)")
        if o.phase == "mid_body":  # measured: a whole small message may have arrived before the FIN
            r.also("OK", value=0)
        return r
    if ev == Event.UPSTREAM_FAILED:
        return status("UNAVAILABLE")
    if ev == Event.HTTP_RESPONSE:
        code = f.get("status", 200)
        if code != 200:
            return status(FOR_HTTP.get(code, "UNKNOWN"), message=f"Received http2 header with status: {code}")
        return status(catalog.grpc_name(f.get("grpc_status_seen", 0)))
    if ev == Event.GRPC_STATUS:
        return status(catalog.grpc_name(f["grpc_status"]), message=f.get("grpc_message", ""))
    if ev == Event.H2_RST_STREAM:
        return status(FOR_RST.get(f["code"], "INTERNAL"))
    if ev in (Event.TCP_RST, Event.TCP_FIN) and o.phase == "mid_body":
        return status("UNAVAILABLE")  # "Stream removed": measured on server streams (tests/e2e/test_grpc_streams.py)
    if ev == Event.CLIENT_GAVE_UP and f.get("stalled"):
        return status("DEADLINE_EXCEEDED", certainty="likely", note="when the call's deadline passed during the stall")
    if ev == Event.H2_VIOLATION:
        r = status(FOR_VIOLATION[f["violation"]])
        if f["violation"] == "window_overflow":
            # A race inside grpcio: usually our close ends the call (UNAVAILABLE), but under
            # load it sometimes processes the overflowing DATA first (INTERNAL, "frame of
            # size N overflows local window"). Seen once in a loaded CI run.
            r.also("INTERNAL", value=catalog.grpc_code("INTERNAL"))
            r.note = "grpcio reports UNAVAILABLE, or INTERNAL when it processes the overflowing DATA before the close"
        return r
    if ev == Event.H2_GOAWAY:
        if not f.get("goaway_refused") and o.goaway_spared:
            return status("OK")  # the call finished before the GOAWAY took effect
        r = status("UNAVAILABLE")  # grpcio does not retry a call a GOAWAY cut or refused ...
        if o.phase == "before_response" and not o.goaway_covers:
            r.extra["transparent_retry"] = True  # ... except once, transparently, one it says was not processed
        return r
    return None
