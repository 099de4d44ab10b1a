"""``~d`` in reverse mode (faults/plan/filters.py): mitmproxy rewrites Host to the upstream's
before any hook unless keep_host_header is on; a rule's ``~d NAME`` also matches the
name the client used, which the HTTP layer keeps on the request
(vocabulary.CLIENT_HOST_ATTR, set by faults.wire.h2layer.remember_client_host)."""

from types import SimpleNamespace

import pytest
from mitmproxy.proxy.mode_specs import ProxyMode
from mitmproxy.test import tflow

from faults import plan, vocabulary
from faults.addons.control import is_control_host
from faults.wire.h2layer import remember_client_host


def reverse_flow(client_host: str | None, path="/x", method="GET"):
    """A flow as a reverse proxy to 127.0.0.1:3000 hands it to the hooks: Host rewritten."""
    f = tflow.tflow()
    f.request.host, f.request.port, f.request.path, f.request.method = "127.0.0.1", 3000, path, method
    f.request.headers["Host"] = "127.0.0.1:3000"
    if client_host is not None:
        setattr(f.request, vocabulary.CLIENT_HOST_ATTR, client_host)
    return f


@pytest.mark.parametrize("match", [r"~d up\.test", r"~d up\.test & ~m POST", r"!(~d other) & ~d ^up"])
def test_a_domain_rule_matches_the_name_the_client_used(match):
    rule = plan.rule_from_option(f"|{match}|status code=503", 0)
    assert rule.select(reverse_flow("up.test:8080", method="POST"))
    assert not rule.select(reverse_flow("down.test:8080", method="POST"))
    assert not rule.select(reverse_flow(None, method="POST"))  # no client name kept: mitmproxy's ~d only
    p = plan.Plan([rule])
    assert p.select(reverse_flow("up.test", method="POST")) is rule
    assert p.select(reverse_flow("elsewhere.test", method="POST")) is None


def test_the_upstream_name_still_matches():
    rule = plan.rule_from_option(r"|~d ^127\.0\.0\.1$|status code=503", 0)
    assert rule.select(reverse_flow("up.test"))


def test_the_control_host_is_recognised_by_the_client_name():
    assert is_control_host(reverse_flow("faults.control"), "faults.control")
    assert not is_control_host(reverse_flow("up.test"), "faults.control")


def _context(mode: str, keep: bool):
    return SimpleNamespace(client=SimpleNamespace(proxy_mode=ProxyMode.parse(mode)),
                           options=SimpleNamespace(keep_host_header=keep))


def test_the_layer_keeps_the_client_name_only_where_mitmproxy_rewrites_it():
    for mode, keep, kept in (("reverse:http://127.0.0.1:3000", False, True),
                             ("reverse:http://127.0.0.1:3000", True, False), ("regular", False, False)):
        f = tflow.tflow()
        f.request.headers["Host"] = "up.test:8080"
        remember_client_host(_context(mode, keep), f.request)
        assert getattr(f.request, vocabulary.CLIENT_HOST_ATTR, None) == ("up.test:8080" if kept else None)
