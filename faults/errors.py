"""The one error type for bad input (plan file, option, header, control endpoint):
the reason and where it came from, shown as one line, never a traceback."""

from __future__ import annotations


class SpecError(ValueError):
    """A fault spec (or plan rule) that cannot be used; ``where`` says whence."""

    def __init__(self, reason: str, where: str = ""):
        self.reason = reason
        self.where = where
        super().__init__(f"{where}: {reason}" if where else reason)

    def at(self, where: str) -> "SpecError":
        return SpecError(self.reason, f"{where}: {self.where}" if self.where else where)
