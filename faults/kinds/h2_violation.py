"""``h2_violation kind=data_on_idle_stream|oversized_frame|window_overflow|bad_hpack``:
the proxy breaks HTTP/2 on purpose, before the response, so that the client
itself detects a connection error, then closes the connection:

- data_on_idle_stream: a DATA frame on a stream the client never opened;
- oversized_frame: HEADERS, then a DATA frame one byte larger than the
  client's SETTINGS_MAX_FRAME_SIZE;
- window_overflow: HEADERS, then one byte more DATA than the client's
  flow-control window for the stream allows;
- bad_hpack: a HEADERS frame whose header block cannot be decoded.
HTTP/1.1 flows: TCP reset (see ``rst_stream.py``).
"""

from faults.kinds import Param, register
from faults.kinds._h2 import H2Fault

VIOLATIONS = ("data_on_idle_stream", "oversized_frame", "window_overflow", "bad_hpack")


@register
class H2Violation(H2Fault):
    kind = "h2_violation"
    h3 = "HTTP/2 protocol violations have no HTTP/3 counterpart"
    frame = "violation"
    summary = "break HTTP/2 on purpose so the client detects a connection error"
    params = {"kind": Param(str, default="data_on_idle_stream", choices=VIOLATIONS)}

    async def request(self, flow, act):
        if act.h2_stream() is None:
            return self.fallback(flow, act)
        act.h2_violation(self.get("kind"))
        act.end_stream()
