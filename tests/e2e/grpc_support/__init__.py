"""A local grpcio server and client with no generated code.

The service is ``test.Echo`` with a unary ``Say`` (answers ``b"echo:" + request``)
and a server-streaming ``Count`` (answers ``n`` messages for a request of ``n``
as one byte). Messages are raw bytes: the serializers are identities, so no
protobuf or codegen is needed. The server speaks TLS with a trustme cert for
127.0.0.1, as mitmproxy in ``reverse:https://`` mode connects to it.
"""

from __future__ import annotations

import time
from concurrent import futures

import grpc
import trustme

SERVICE = "test.Echo"
SAY = f"/{SERVICE}/Say"
COUNT = f"/{SERVICE}/Count"
TICK = f"/{SERVICE}/Tick"
TICK_GAP = 0.1


def _ident(b: bytes) -> bytes:
    return b


def _say(request: bytes, context) -> bytes:
    return b"echo:" + request


def _count(request: bytes, context):
    for i in range(request[0] if request else 0):
        yield bytes([i])


def _tick(request: bytes, context):
    """Server streaming at a pace: n messages, TICK_GAP s apart (a live feed)."""
    import time

    for i in range(request[0] if request else 0):
        if i:
            time.sleep(TICK_GAP)  # kept: the pace of the live feed (the subject: messages arrive as sent)
        yield bytes([i])


class GrpcServer:
    def __init__(self):
        self.ca = trustme.CA()
        cert = self.ca.issue_cert("127.0.0.1", "localhost")
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        handler = grpc.method_handlers_generic_handler(SERVICE, {
            "Say": grpc.unary_unary_rpc_method_handler(_say, request_deserializer=_ident, response_serializer=_ident),
            "Count": grpc.unary_stream_rpc_method_handler(_count, request_deserializer=_ident,
                                                          response_serializer=_ident),
            "Tick": grpc.unary_stream_rpc_method_handler(_tick, request_deserializer=_ident,
                                                         response_serializer=_ident),
        })
        self.server.add_generic_rpc_handlers((handler,))
        creds = grpc.ssl_server_credentials([(cert.private_key_pem.bytes(), cert.cert_chain_pems[0].bytes())])
        self.port = self.server.add_secure_port("127.0.0.1:0", creds)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def __enter__(self):
        self.server.start()
        return self

    def __exit__(self, *exc):
        self.server.stop(0)


def channel(port: int, ca_file, name: str = "demo.test") -> grpc.Channel:
    """A TLS channel to the proxy that trusts mitmproxy's CA (no retries of our own)."""
    creds = grpc.ssl_channel_credentials(root_certificates=open(ca_file, "rb").read())
    return grpc.secure_channel(f"127.0.0.1:{port}", creds, options=[("grpc.ssl_target_name_override", name)])


def call(port: int, ca_file, fault: str | None = None, *, method: str = SAY, request: bytes = b"hi",
         timeout: float = 3.0, case: str = "") -> dict:
    """One call on a fresh channel; what grpcio reported: code name/value, details, messages."""
    md = []
    if fault:
        md.append(("x-fault", fault))
    if case:
        md.append(("x-case", case))
    with channel(port, ca_file) as ch:
        if method in (COUNT, TICK):
            rpc = ch.unary_stream(method, request_serializer=_ident, response_deserializer=_ident)
        else:
            rpc = ch.unary_unary(method, request_serializer=_ident, response_deserializer=_ident)
        messages, arrived = [], []
        start = time.monotonic()
        try:
            if method in (COUNT, TICK):
                for m in rpc(request, timeout=timeout, metadata=md):
                    messages.append(m)
                    arrived.append(round(time.monotonic() - start, 3))
            else:
                messages.append(rpc(request, timeout=timeout, metadata=md))
            code, details = grpc.StatusCode.OK, ""
        except grpc.RpcError as e:
            code, details = e.code(), e.details() or ""
    return {"name": code.name, "value": code.value[0], "details": details, "messages": messages,
            "arrived": arrived, "ended": round(time.monotonic() - start, 3)}
