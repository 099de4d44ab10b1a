"""``close when=before_response|after_headers|mid_body [after_bytes=N]``:
a plain FIN to the client at that phase of the exchange."""

from faults.kinds import register
from faults.kinds._cut import ConnectionCut


@register
class Close(ConnectionCut):
    kind = "close"
    summary = "TCP FIN (orderly close) to the client at the chosen phase"
    how = "fin"
