"""An option's value read on the hot path (per request), without mitmproxy's copy.

``ctx.options.NAME`` deep-copies the value on every read (so that a caller cannot
change a list option in place): a few microseconds, several times per request. For an
option whose value is immutable (bool, int, str, None) the copy is the value itself,
so ``scalar`` reads it from mitmproxy's option record (mitmproxy 12.3's
``OptManager._options``, ``_Option.value`` / ``_default``): always the current value,
nothing to keep in step with ``configure``. Anything else falls back to ``ctx.options``.
"""

from __future__ import annotations

from mitmproxy import ctx, optmanager

_UNSET = optmanager.unset


def scalar(name: str):
    """``ctx.options.<name>`` for an option of an immutable type (bool, int, str, Optional)."""
    opts = ctx.options
    try:
        o = opts._options[name]
    except (AttributeError, KeyError):
        return getattr(opts, name)  # not mitmproxy's OptManager (or no such option: its error)
    v = o.value
    return o._default if v is _UNSET else v
