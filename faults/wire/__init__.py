"""The wire: the only package that reaches past mitmproxy's addon API.

- ``act``: ``Act``, the one door fault kinds use to touch a flow's connection,
  and the writer of the wire record (``faults.vocabulary``);
- ``sockets``: the raw client socket (RST, FIN, pacing, flush);
- ``servers``: mitmproxy's servers stopped at shutdown, mitmproxy_rs's threads out of Python;
- ``udpreturn``: a UDP client (QUIC, DNS) back on the same address and port is served again;
- ``h2layer``: frames inside mitmproxy's private HTTP/2 layer (GOAWAY, RST_STREAM, violations);
- ``tls``: bytes on a TLS connection before any TLS state exists (alerts, plaintext, stalls).

Each private part is guarded by a unit test that fails loudly when mitmproxy changes.
"""
