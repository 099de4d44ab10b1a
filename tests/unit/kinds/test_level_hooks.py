"""Every level's kinds do their own work: a kind of the DNS, QUIC or connection level
implements that level's hook (its addon only selects the rule and calls it), and no
addon of those levels branches on a kind's name."""

from pathlib import Path

import pytest

from faults import kinds
from faults.kinds import Fault

HOOKS = {"dns": ("dns_request",), "quic": ("quic_clienthello",),
         "connection": ("tls_clienthello", "tls_start", "quic_start")}
ADDONS = Path(kinds.__file__).resolve().parents[1] / "addons"


@pytest.mark.parametrize("kind,cls", [(k, c) for k, c in kinds.all_kinds().items() if c.level in HOOKS])
def test_a_kind_of_a_level_implements_its_hook(kind, cls):
    own = [h for h in HOOKS[cls.level] if getattr(cls, h) is not getattr(Fault, h)]
    assert own, f"{kind} (level {cls.level!r}) implements none of {HOOKS[cls.level]}"


@pytest.mark.parametrize("addon", ["dns.py", "tls.py", "datagrams.py"])
def test_the_level_addons_dispatch_not_branch_on_kinds(addon):
    text = (ADDONS / addon).read_text()
    assert "kind ==" not in text and ".kind in" not in text


@pytest.mark.parametrize("addon", ["dns.py", "tls.py", "datagrams.py"])
def test_the_level_addons_read_no_parameter_of_a_fault(addon):
    """What a parameter means (``cert=`` for the record, ...) is the kind's to say: an addon
    that reads one knows a kind (``Tls.left_without_request``, ``Tls.record_leaf``)."""
    text = (ADDONS / addon).read_text()
    assert [r for r in ("fault.get(", "fault.p[", "fault.p.get(", 'get("cert")') if r in text] == []
