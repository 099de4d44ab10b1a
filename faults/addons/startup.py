"""Start-up checks and the one line that says what is active.

- mitmproxy keeps a ``--set NAME=V`` it does not know in ``options.deferred``,
  in case a script loaded later adds that option, and never complains: a
  misspelt ``fault_plam`` would silently run with no faults. Once every addon
  is loaded (``running``), a deferred ``fault*`` name can only be a typo of
  ours: it is logged as an error (mitmdump then exits with status 1) with a
  did-you-mean.
- Then one info line: plan file and its rule count, option rules, the
  ``x-fault`` header, the control endpoint (``-q`` hides it, as it should).

Reads the injector's plans (handed over by ``FaultAddon``); owns no option.
"""

from __future__ import annotations

import difflib
import functools
import logging
import re

from typing import Optional

from mitmproxy import ctx, exceptions

from faults import numbers
from faults.addons import succession
from faults.errors import SpecError

log = logging.getLogger(__name__)
# what a script reload keeps (each addon takes it over: faults.addons.succession) and what it cannot
RELOADED = ("faults: script reloaded: the runtime rules, the Toxiproxy API and its proxies, the workers' sockets, "
            "the metrics and the summary's counts go on; the plan file and the faults option are read again, so "
            "their rules' first/every/requests counts start again (as after a plan edit)")
PREFIX = "fault"  # every option of ours starts with it: fault_*, faults


def one_line_at_start(configure):
    """For an addon's ``configure``: an ``OptionsError`` before the proxy runs is
    logged as ONE error line (mitmdump's errorcheck then exits with status 1:
    "Error logged during startup") instead of the script loader's traceback; once
    the addon runs (``self._started``), it is raised: mitmproxy then rejects the
    change (``--set`` at the console, mitmweb's options API) and says why."""

    @functools.wraps(configure)
    def wrapper(self, updated):
        try:
            return configure(self, updated)
        except exceptions.OptionsError as e:
            if getattr(self, "_started", False):
                raise
            log.error(f"faults: {e}")
    return wrapper


def unknown_options(deferred, known) -> list[str]:
    """One message per deferred ``fault*`` name, with the closest known option."""
    ours = sorted(k for k in known if k.startswith(PREFIX))
    by_rest = {_rest(k): k for k in ours}  # compare what follows the shared prefix
    out = []
    for name in sorted(n for n in deferred if n.lower().startswith(PREFIX)):
        close = difflib.get_close_matches(_rest(name), list(by_rest), n=1, cutoff=0.6)
        hint = f"did you mean {by_rest[close[0]]}?" if close else "options: " + ", ".join(ours)
        out.append(f"faults: unknown option {name!r} (--set {name}=...): {hint}")
    return out


def _rest(name: str) -> str:
    return re.sub(r"^faults?_?", "", name.lower())


def _n(count: int, what: str) -> str:
    return f"{count} {what}{'' if count == 1 else 's'}"


def active_line(opts, injector) -> str:
    parts = []
    if opts.fault_plan:
        n = len(injector.file_plan.rules) if injector else 0
        parts.append(f"plan {opts.fault_plan} ({_n(n, 'rule')})")
    else:
        parts.append("no plan file")
    parts.append(_n(len(injector.option_plan.rules) if injector else 0, "option rule"))
    parts.append(f"x-fault header {'on' if opts.fault_header else 'off'}")
    if opts.fault_control:
        token = "token set" if opts.fault_control_token else "no token: changes refused"
        parts.append(f"control endpoint on at http://{opts.fault_control_host}/ through this proxy ({token})")
    else:
        parts.append("control endpoint off")
    if getattr(opts, "toxiproxy_api", ""):  # only when on: the line stays as it was otherwise
        parts.append(f"toxiproxy API on {opts.toxiproxy_api} (no authentication)")
    if getattr(opts, "fault_metrics", None):  # only when on, like the toxiproxy API
        parts.append(f"metrics on {opts.fault_metrics} (/metrics, no authentication)")
    return "faults: active: " + ", ".join(parts)


def refuse_bad_deferred(options) -> list[str]:
    """Check the ``--set NAME=VALUE`` values mitmproxy deferred for options that are
    known now (ours, just added by the addons loaded before this one); drop each bad one
    and return one line per drop naming the option, the value and the reason.

    Why: mitmproxy converts them in ``process_deferred`` right after our ``load``; a bad
    one (``fault_header=maybe``) raises there, inside its script loader's reload task,
    which swallows the error and leaves the script unloaded: the proxy would serve with
    no faults and say nothing."""
    problems = []
    known = getattr(options, "_options", {})
    for name, value in list(getattr(options, "deferred", {}).items()):
        strings = getattr(value, "val", None)  # optmanager._UnconvertedStrings
        if name not in known or not isinstance(strings, list):
            continue
        typespec = known[name].typespec
        given = strings[-1] if strings else ""
        try:
            if typespec in (int, Optional[int]) and given:
                numbers.whole(given, name)
            options._parse_setval(known[name], strings)
        except (exceptions.OptionsError, SpecError) as e:
            if typespec is bool:
                why = "expected true or false (or no value, meaning true)"
            else:
                why = str(e).split(": ", 1)[-1] if isinstance(e, SpecError) else \
                    re.sub(r"^Failed to parse option \S+: ", "", str(e))
            problems.append(f"faults: option {name}={numbers.shown(given, 80)} refused: {why}")
            del options.deferred[name]
    return problems


class FaultStartup:
    name = "faultstartup"

    def __init__(self, injector=None):
        self.injector = injector
        self._said = False
        self._reloaded = False

    def load(self, loader):
        self._reloaded = succession.take_over(self) is not None  # a script reload (docs/usage.md)
        for p in refuse_bad_deferred(loader.master.options):
            log.error(p)  # mitmdump then exits with status 1 ("Error logged during startup")

    def running(self):
        if self._said:  # running runs once per master; say it once
            return
        self._said = True
        problems = unknown_options(ctx.options.deferred, ctx.options.keys())
        for p in problems:
            log.error(p)
        if not problems:
            log.info(active_line(ctx.options, self.injector))
        if self._reloaded:
            log.warning(RELOADED)
