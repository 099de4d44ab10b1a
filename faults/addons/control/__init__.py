"""Runtime control of the fault rules: mitmproxy commands and an HTTP endpoint.

One module per job: ``addon`` (``FaultControl``: options, commands, hooks), ``changes``
(the runtime rules as a log of changes, fanned out to sibling workers), ``rules``
(rules from text, and what the rules are), ``endpoint`` (the HTTP endpoint's routing,
refusals and answers), ``body`` (a request's rules and query).

Both work on the injector's ``runtime_plan`` (tried before the ``faults``
option and the plan file) and validate exactly like the plan: option-style
``/filter/spec`` strings go through ``plan.rule_from_option``, YAML plans
through ``plan.load_yaml``. Rules set at runtime are seeded with the plan's
own ``seed`` or else the ``fault_seed`` option, so with a seed the same
requests get the same faults however often the rules change.

Commands (mitmproxy console, mitmweb's command bar or ``POST /commands/...``)::

    faults.set  "/~u /api/status code=503" ...   replace the runtime rules (one argument per rule)
    faults.add  "/~u /api/status code=503" ...   append runtime rules
    faults.load plan.yaml                        replace them with a YAML plan
    faults.clear                                 drop every runtime rule
    faults.list                                  every rule (runtime, option, file)
    faults.stats                                 rules' counters and k6 codes seen
    faults.t0 [SECONDS|next]                     the run's t0 (faults.gates): now (the run is
                                                 SECONDS old now), or unset (the next request sets it)

HTTP endpoint (option ``fault_control``, off by default), served by the proxy
itself for requests to the reserved host ``faults.control`` (option
``fault_control_host``), like mitmproxy's ``mitm.it``. Through a regular proxy
use the proxy (``curl -x``); through a reverse proxy send ``Host: faults.control``
(mitmproxy rewrites the Host header unless ``keep_host_header``, but the name the
client sent is kept and recognised, ``faults.plan.client_host``)::

    GET    /            rules and stats          GET /rules, GET /stats
    POST   /rules       replace runtime rules    (?append=1 to add)
    DELETE /rules       clear runtime rules      (also POST /clear)
    GET    /expect      ?code=&count=&fault=&url=&client=&error=&timeout= (also POST):
                        200 with the matching flows when met, 417 with the
                        explanation when not (faults/expect.py, as the pytest
                        fixture's expect); waits up to timeout s (default 5)
    GET    /flows       the report records kept for /expect
    GET    /t0          the run's t0 (unix time) and seconds since (t)
    POST   /t0          t0 = now (?t=SECONDS: the run is that old now); DELETE /t0: the
                        next request sets it. Windows and ramps (faults.gates) count from t0.
    DELETE /flows       forget them (so does every change of the runtime rules)

POST bodies: ``text/plain`` one ``/filter/spec`` per line; ``application/yaml``
a plan (``seed:``/``rules:``); ``application/json`` ``{"faults": [...]}``,
``{"plan": "<yaml>"}`` or a list of strings. With a token set
(``fault_control_token``) every request needs it, reads too (the seed makes
the draws predictable), as ``Authorization: Bearer TOKEN`` or
``x-fault-token: TOKEN``: without it 403. With no token set reads are open and
changes are refused (403). A malformed command gets 400 naming what is wrong;
no value gives a 500 (numbers: ``faults.numbers``). A refusal that the request's
head decides (token, path, method, a Content-Length over 4 MiB) is answered at the
head and its body dropped as it arrives, never buffered. A rule set over 64 kB is
parsed in a thread and applied on the loop in one step.

With the endpoint off, its host is proxied like any other. The token never leaves:
a request carrying it that the endpoint does not answer (off, or addressed
elsewhere) gets 421; the ``x-fault-token`` header is stripped from every forwarded
request. (docs/hostile-inputs.md)
"""

from faults.addons.control.addon import FaultControl
from faults.addons.control.body import looks_like_yaml_plan, parse_body
from faults.addons.control.endpoint import (CONTROL_HOST, CONTROL_KEY, OFF_LOOP_BYTES, TOKEN_HEADER,
                                            is_control_host)
from faults.addons.control.rules import build_plan, build_rules, describe_rules, seeded, stats

__all__ = ["CONTROL_HOST", "CONTROL_KEY", "OFF_LOOP_BYTES", "TOKEN_HEADER", "FaultControl", "build_plan",
           "build_rules", "describe_rules", "is_control_host", "looks_like_yaml_plan", "parse_body", "seeded",
           "stats"]
