"""Several faults on one request (``fault: [delay ms=200, status code=503]``).

``faults.spec.stack`` has put them in phase order (latency kinds first, then
the one fault that decides what the client gets) and refused pairs that
cannot combine. Each hook calls the parts' hooks of that name in that order,
sharing the flow's one ``Act``: their facts land in one wire record, which
the classifier reads as one outcome (a delay's ``delay_ms`` beside the
status it delayed), so the flow gets one annotation. A part that ended the
flow (the client gave up during the delay) stops the parts after it.
"""

from __future__ import annotations

from faults.kinds import Fault, instantiate


class Stack(Fault):
    kind = "stack"
    summary = "several faults on one request, in phase order"

    def __init__(self, spec):
        self.spec = spec
        self.p = {}
        self.parts = [instantiate(p) for p in spec.parts]
        self.level = "flow"

    def acts_on_response_head(self) -> bool:
        return any(f.acts_on_response_head() for f in self.parts)

    @staticmethod
    def _ended(flow) -> bool:
        return flow.error is not None

    async def request(self, flow, act):
        for f in self.parts:
            if self._ended(flow):
                return
            hook = getattr(f, "request", None)
            if hook:
                await hook(flow, act)

    def responseheaders(self, flow, act):
        for f in self.parts:
            if self._ended(flow):
                return
            hook = getattr(f, "responseheaders", None)
            if hook:
                hook(flow, act)

    async def response(self, flow, act):
        for f in self.parts:
            if self._ended(flow):
                return
            hook = getattr(f, "response", None)
            if hook:
                await hook(flow, act)

