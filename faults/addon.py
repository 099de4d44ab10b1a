"""The installed mitmproxy script: ``mitmdump -s "$(faults addon)"``.

It lives inside the package so that a pip-installed copy has it (``faults
proxy`` / ``faults web`` load it for you). ``addons/errors.py`` in a checkout
is a thin entry that loads the checkout's own copy of this.
"""

from faults.addons import FaultAddon

addons = [FaultAddon()]
