"""The hostile corpus: number texts that every entry point must refuse with one
line naming the key (faults/numbers.py, docs/hostile-inputs.md). Shared by the
guards in tests/unit/test_numbers.py, tests/unit/addons/control/ and
tests/e2e/test_hostile_inputs.py."""

HUGE = "1" * 5000  # past Python's 4,300-digit int() limit
NUMBERS = [
    "²",             # superscript two: str.isdigit() says yes, int() says no
    "٣",             # Arabic-Indic three: int() says 3
    "１２",           # full-width digits: int() says 12
    "1_000",         # int() accepts underscores
    "0x10", "0b1", "1e400", "inf", "nan", "-nan", "Infinity",
    HUGE,
    "9" * 33,        # one past the 32-character bound
    "+", "-", "--1", "1.5.2", "12abc", "1\u00a01",
]
# Keys, in the option/text form (KEY=VALUE inside a spec), that read a number.
SPEC_TEMPLATES = [
    ("every", "hang every={}"),
    ("first", "hang first={}"),
    ("probability", "hang probability={}"),
    ("max_active", "hang max_active={}"),
    ("requests", "hang requests={}..50"),
    ("window", "hang window={}s..90s"),
    ("ms", "delay ms={}"),
    ("last_stream", "goaway last_stream={}"),
]
RULE_FIELDS = ("every", "first", "probability", "max_active", "requests", "window")  # a plan's rule keys


def specs():
    """(key, value, spec text) for every key and corpus value."""
    return [(key, v, tpl.format(v)) for key, tpl in SPEC_TEMPLATES for v in NUMBERS]


def rule_field(key: str, text: str) -> str:
    """The value of ``key`` in the spec ``text``, as a plan's rule field takes it."""
    return text.split(f" {key}=", 1)[1]
