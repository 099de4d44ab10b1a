"""The plan's stated limits: past them input is refused with the limit named.

Every check reads them as ``limits.NAME`` (this package, the injector, the control
endpoint), so a test that lowers one here lowers it for every check; the names
``faults.plan`` re-exports are copies bound at import, for reading only."""

MAX_PLAN_BYTES = 4 * 1024 * 1024  # a plan file (or control request body)
MAX_RULES = 10_000  # rules in one plan, option or control request
MAX_MATCH_CHARS = 4096  # a flow filter
MAX_STACK = 16  # faults in one rule's fault list
HOST_MEMO_MAX = 4096  # per rule / per plan: distinct hosts remembered before the memo is cleared
