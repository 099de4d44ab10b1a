"""A local grpcio server and client with no generated code.

The service is ``test.Echo`` with a unary ``Say`` (answers ``b"echo:" + request``)
and a server-streaming ``Count`` (answers ``n`` messages for a request of ``n``
as one byte). Messages are raw bytes: the serializers are identities, so no
protobuf or codegen is needed. The server speaks TLS with a trustme cert for
127.0.0.1, as mitmproxy in ``reverse:https://`` mode connects to it.
"""

from __future__ import annotations

import itertools
import threading
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


class Feed:
    """A Tick call's progress, shared by the server and the client in this process, so that
    whether a stream is live is told by the order of events, not by timing them: Tick hands
    its second message over only once the client holds the first (a live stream: the client
    got message 0 while 1 message was sent; a buffered one waits out ``WAIT_S``, then arrives
    whole) and, with ``hold_last``, its last message only once the client's call has ended (a
    call cut by the proxy ends while fewer than all were sent)."""

    WAIT_S = 5.0  # then Tick sends on anyway (the test fails on the counts)
    _tags = itertools.count()
    _by_tag: dict[int, "Feed"] = {}

    def __init__(self, hold_last: bool = False):
        self.tag = next(self._tags) % 256
        self.hold_last = hold_last
        self.sent = 0
        self.sent_at_first: int | None = None  # messages sent when the client got its first
        self.sent_at_end: int | None = None  # ... and when its call ended
        self.first_seen, self.ended = threading.Event(), threading.Event()
        Feed._by_tag[self.tag] = self

    def request(self, n: int) -> bytes:
        return bytes([n, self.tag])

    def client_got(self, messages: int) -> None:
        if messages == 1:
            self.sent_at_first = self.sent
            self.first_seen.set()

    def client_ended(self) -> None:
        self.sent_at_end = self.sent
        self.ended.set()


def _tick(request: bytes, context):
    """Server streaming at a pace: n messages, TICK_GAP s apart (a live feed); a request's
    second byte names its ``Feed``."""
    n = request[0] if request else 0
    feed = Feed._by_tag.get(request[1]) if len(request) > 1 else None
    for i in range(n):
        if feed is not None and i == 1:
            feed.first_seen.wait(Feed.WAIT_S)
        if feed is not None and feed.hold_last and i == n - 1:
            feed.ended.wait(Feed.WAIT_S)
        if i:
            time.sleep(TICK_GAP)  # kept: the pace of the live feed (the subject: messages arrive as sent)
        if feed is not None:
            feed.sent += 1
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
         timeout: float = 3.0, case: str = "", feed: Feed | None = None) -> dict:
    """One call on a fresh channel; what grpcio reported: code name/value, details, messages
    (a Tick call with ``feed``: its request, and the client's side of the feed noted)."""
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
        messages = []
        try:
            if method in (COUNT, TICK):
                for m in rpc(request, timeout=timeout, metadata=md):
                    messages.append(m)
                    if feed is not None:
                        feed.client_got(len(messages))
            else:
                messages.append(rpc(request, timeout=timeout, metadata=md))
            code, details = grpc.StatusCode.OK, ""
        except grpc.RpcError as e:
            code, details = e.code(), e.details() or ""
        finally:
            if feed is not None:
                feed.client_ended()
    return {"name": code.name, "value": code.value[0], "details": details, "messages": messages}
