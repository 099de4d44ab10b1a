"""The mitmproxy addons, each thin: they read the plan, call the kinds, the
classifier and the report, and hold no protocol logic of their own.

``FaultAddon`` is the one top-level addon the entry script registers; the
components are its children, called in this order:

- ``Workers`` first: this process as one of ``faults proxy --workers N`` (worker id,
  seeds, the shared listener, the control fan-out); it is configured before any rule is built;
- ``FaultControl``: it answers requests to the control host before any fault applies;
- ``ToxiproxyApi``: Toxiproxy's API and its proxies (listeners, raw TCP toxics, http toxics);
- ``FaultInjector``: selects a rule per flow and runs its kind (``faults.kinds``);
- ``TlsFaults``: connection-level TLS faults, selected at the ClientHello;
- ``H2Preference``: option ``fault_prefer_h2`` (after ``TlsFaults``: it adjusts the
  TLS connection that addon or mitmproxy's TlsConfig made);
- ``DnsFaults``: ``dns``/``refuse``/``blackhole`` rules on the DNS mode's queries;
- ``H2Frames``: installs the frame-capable HTTP/2 layer (``faults.wire.h2layer``);
- ``WsFrames``: the same for WebSocket sessions (``faults.wire.wslayer``);
- ``Classifier``: after the injector on the same hooks, so it sees what the fault did;
- ``FaultStatus``: it reads what the classifier wrote;
- ``FaultStartup`` last: at ``running`` it refuses unknown ``fault*`` options
  and logs the one line saying what is active.

Children rather than nine top-level addons because mitmproxy's dispatch costs
about 15-20 us per top-level addon per HTTP exchange, even for hooks an addon
does not have; children share one dispatch (bench/README.md). They are still
registered: options, commands and ``ctx.master.addons.get(name)`` work.
"""

from faults.addons.alpn import H2Preference
from faults.addons.annotate import Classifier
from faults.addons.control import FaultControl
from faults.addons.dns import DnsFaults
from faults.addons.injector import FaultInjector
from faults.addons.startup import FaultStartup
from faults.addons.status import FaultStatus
from faults.addons.tls import TlsFaults
from faults.addons.toxiproxy import ToxiproxyApi
from faults.addons.workers import Workers
from faults.wire.h2layer import H2Frames
from faults.wire.wslayer import WsFrames


class FaultAddon:
    def __init__(self):
        classifier, status = Classifier(), FaultStatus()
        classifier.listeners.append(status.count)  # counted once annotated (HTTP/2: once written)
        self.addons = [Workers(), FaultControl(), ToxiproxyApi(), FaultInjector(), TlsFaults(), H2Preference(),
                       DnsFaults(), H2Frames(), WsFrames(), classifier, status, FaultStartup()]
