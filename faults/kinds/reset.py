"""``reset when=before_response|after_headers|mid_body [after_bytes=N]``:
a real TCP RST to the client (SO_LINGER 0), at that phase of the exchange."""

from faults.kinds import register
from faults.kinds._cut import ConnectionCut


@register
class Reset(ConnectionCut):
    kind = "reset"
    summary = "TCP RST to the client at the chosen phase"
    how = "rst"
