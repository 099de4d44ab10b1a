"""The plan's stated limits: past them input is refused with the limit named.

This package reads them as ``limits.NAME`` when it checks, so a test that lowers one
here lowers it for every check in the package; ``faults.plan`` re-exports them for
the code outside that states or checks them too (the injector, the control endpoint)."""

MAX_PLAN_BYTES = 4 * 1024 * 1024  # a plan file (or control request body)
MAX_RULES = 10_000  # rules in one plan, option or control request
MAX_MATCH_CHARS = 4096  # a flow filter
MAX_STACK = 16  # faults in one rule's fault list
HOST_MEMO_MAX = 4096  # per rule / per plan: distinct hosts remembered before the memo is cleared
