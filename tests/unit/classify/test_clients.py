"""Option fault_clients: which client profiles a flow's metadata, report and comment show."""

import asyncio

import pytest
from mitmproxy import exceptions
from mitmproxy.test import tflow

from faults.classify import clients as profiles

from ..addons.test_injector import make, through


def test_default_is_every_profile():
    with make(faults=["|~u /r|reset when=before_response"])[0] as tctx:
        inj, cls = tctx.master.addons.chain[-2], tctx.master.addons.chain[-1]
        f = asyncio.run(through(inj, cls, tflow.tflow()))
        assert {"k6", "node", "requests", "aiohttp", "java"} <= set(f.metadata["clients"])
        assert " | " not in f.comment  # the comment stays k6's


def test_a_selection_narrows_the_metadata_and_names_the_chosen_in_the_comment():
    with make(faults=["|~u /|reset when=before_response"])[0] as tctx:
        inj, cls = tctx.master.addons.chain[-2], tctx.master.addons.chain[-1]
        tctx.configure(cls, fault_clients=["node", "java"])
        f = asyncio.run(through(inj, cls, tflow.tflow()))
        assert set(f.metadata["clients"]) == {"node", "java"}
        assert f.metadata["k6_error_code"] == 1220  # k6's annotation stays
        assert f.metadata["clients"]["node"]["error"] == "ECONNRESET"
        assert f.comment.endswith("| node ECONNRESET | java IOException (re-sent 1x)"), f.comment


def test_an_unknown_profile_is_refused_with_a_did_you_mean():
    with make()[0] as tctx:
        cls = tctx.master.addons.chain[-1]
        with pytest.raises(exceptions.OptionsError, match="unknown client profile 'nodejs': did you mean node"):
            tctx.configure(cls, fault_clients=["nodejs"])
        assert cls.shown == profiles.NAMES  # the old selection stays


def test_the_option_is_settable_as_mitmproxy_parses_set():
    """``--set fault_clients=node`` on the command line: mitmproxy parses it only for
    collections.abc.Sequence[str] (typing.Sequence gave a traceback at start)."""
    with make()[0] as tctx:
        cls = tctx.master.addons.chain[-1]
        tctx.master.options.set("fault_clients=node", "fault_clients=java")
        assert cls.shown == ("node", "java")
