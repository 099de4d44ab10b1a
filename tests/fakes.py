"""Stand-ins shared by the unit tests."""


class FakeWriter:
    """A socket writer as ``faults.wire.bytestream`` drives it: what was written (``got``),
    whether it was half closed (``eof``) and closed (``closed``)."""

    def __init__(self):
        self.got, self.eof, self.closed = [], False, False

    def write(self, d):
        self.got.append(d)

    def write_eof(self):
        self.eof = True

    def can_write_eof(self):
        return True

    def close(self):
        self.closed = True

    def is_closing(self):
        return self.closed

    async def drain(self):
        pass
