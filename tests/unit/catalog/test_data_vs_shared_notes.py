"""The catalog against the project's notes OUTSIDE the repo: the seed documents
(``../shared/seeds/*.txt``) and the k6 1.1.0 error-code notes
(``../shared/k6-error-codes.md``), next to the checkout. Every test here is
skipped, saying so, when those files are absent (e.g. a plain clone or an
installed package); the catalog's own checks are in test_catalog.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from faults import catalog

SHARED = Path(__file__).parents[3].parent / "shared"
SEEDS = SHARED / "seeds"


def _seed(prefix: str) -> str:
    if not SEEDS.is_dir():
        pytest.skip(f"seed documents not found at {SEEDS} (they live outside the repo, in ../shared/seeds)")
    files = sorted(SEEDS.glob(f"{prefix}_*.txt"))
    if not files:
        pytest.skip(f"seed {prefix}_*.txt not found in {SEEDS}")
    return files[0].read_text(encoding="utf-8")


K6_BASES = {"goaway": 1610, "stream": 1630, "connection": 1650}  # as in test_catalog.py


def k6_formula(kind: str, code: int) -> int:
    return K6_BASES[kind] + (code + 1 if code <= 0xD else 0)


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


# --------------------------------------------------------------------------
# The seeds' tables
# --------------------------------------------------------------------------
def _seed002_tables() -> tuple[list, list, list]:
    text = _seed("002")
    hosted, http, grpc = [], [], []
    table = None
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if line.startswith("Error Code |"):
            table = hosted
        elif line.startswith("Status Code |"):
            table = http
        elif line.startswith("English Description | Status Code"):
            table = grpc
        elif table is not None and len(cells) >= 3 and cells[0]:
            table.append(cells[:3])
    assert len(hosted) >= 10 and len(http) >= 40 and len(grpc) == 17, "seed 002 layout changed"
    return hosted, http, grpc


# The hosted table's text has one misspelling; everything else is compared as written.
_SEED_TYPOS = {"unkown": "unknown"}


def test_seed002_hosted_service_codes_are_in_catalog_with_same_meaning():
    hosted, _, _ = _seed002_tables()
    for code_s, english, _definition in hosted:
        code = int(code_s)
        matches = [e for e in catalog.entries() if e.cloud_code == code]
        assert len(matches) == 1, f"hosted code {code} has {len(matches)} catalog entries"
        e = matches[0]
        haystack = f"{e.id} {e.name} {e.description} {e.k6_message}".lower()
        m = re.fullmatch(r"Specific (.*?) ?error message", english)
        words = (m.group(1) if m else english).lower().split()
        words = [_SEED_TYPOS.get(w, w) for w in words]
        missing = [w for w in words if w not in haystack]
        assert not missing, f"hosted {code} {english!r} -> {e.id}: {missing} not in {haystack!r}"
        assert catalog.readings(code_s), code_s
        assert e in catalog.lookup(code_s)


def test_seed002_http_statuses_are_in_catalog_with_same_name():
    _, http, _ = _seed002_tables()
    for status_s, name, _desc in http:
        status = int(status_s)
        e = catalog.for_http_status(status)
        assert not e.id.startswith("http.status.unassigned"), status
        names = {_norm(x) for x in (e.name, *e.aliases)}
        assert _norm(name) in names, f"{status} {name!r} vs {e.name!r} {e.aliases}"
        assert e.http_status == status
        assert e.k6_code == (1000 + status if status >= 400 else 0)
        if status >= 400:
            assert catalog.for_k6(1000 + status) == e
        assert f"status code={status}" in e.produced_by


def test_seed002_grpc_statuses_are_in_catalog():
    _, _, grpc = _seed002_tables()
    seen = set()
    for name, value_s, _desc in grpc:
        value = int(value_s)
        e = catalog.for_grpc(value)
        assert e.grpc_status == (name, value)
        assert catalog.for_grpc(name) == e == catalog.for_grpc(name.lower())
        assert catalog.grpc_code(name) == value and catalog.grpc_name(value) == name
        assert e.k6_code is None  # k6/net/grpc never sets error_code
        seen.add(value)
    assert seen == set(range(17))


def test_seed004_http2_codes_are_in_catalog():
    text = _seed("004")
    found = re.findall(r"\b([A-Z][A-Z0-9_]+)\s*\((0x[0-9a-fA-F]+)\)", text)
    pairs = {(n, int(v, 16)) for n, v in found}
    assert len(pairs) == 14, pairs  # the English and the Chinese list agree
    for name, value in pairs:
        assert catalog.h2_code(name) == value and catalog.h2_name(value) == name
        for kind in K6_BASES:
            e = catalog.for_h2(kind, name)
            assert e.h2_error == (name, value)
            assert e.k6_code == k6_formula(kind, value)


def test_seed000_k6_docs_codes_are_in_catalog():
    for prefix in ("000", "001"):
        text = _seed(prefix)
        singles = {int(c) for c in re.findall(r"^\s*(?:-|•)\s*(\d{4}):", text, re.M)}
        assert len(singles) >= 15, prefix
        for code in singles:
            e = catalog.for_k6(code)
            assert e.k6_code == code
        ranges = re.findall(r"(\d{4}) to (\d{4}): (?:error codes that correspond|HTTP/2)", text)
        for lo, hi in ranges:
            lo, hi = int(lo), int(hi)
            for code in range(lo, hi + 1):
                if 1400 <= code <= 1599 and code - 1000 not in catalog_data_statuses():
                    continue  # unregistered statuses: synthesized entries, checked elsewhere
                if code in (1625, 1626, 1627, 1628, 1629, 1645, 1646, 1647, 1648, 1649,
                            1665, 1666, 1667, 1668, 1669):
                    # documented as ranges, but k6 stops at HTTP_1_1_REQUIRED (0xd)
                    with pytest.raises(KeyError):
                        catalog.for_k6(code)
                    continue
                assert catalog.for_k6(code).k6_code == code


def catalog_data_statuses() -> set[int]:
    return {e.http_status for e in catalog.entries() if e.http_status is not None}


def _form(message: str) -> str:
    return re.sub(r"<[^<>]*>", "<>", message)


def test_k6_error_codes_md_table_is_in_catalog():
    """The ground-truth notes (k6 1.1.0's source): every code, Go name and fixed message."""
    path = SHARED / "k6-error-codes.md"
    if not path.is_file():
        pytest.skip(f"{path} not found (it lives outside the repo, in ../shared)")
    text = path.read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\d{4}(?:–\d{4})?|0) \| ([^|]+) \| ([^|]+) \| ([^\n]+) \|$", text, re.M)
    assert len(rows) >= 25
    for code_s, go_name, trigger, message in rows:
        go_name = go_name.strip().split()[0]
        lo, _, hi = code_s.partition("–")
        codes = range(int(lo), int(hi or lo) + 1)
        for code in codes:
            e = catalog.for_k6(code)
            assert e.k6_code == code
            if go_name != "none" and len(codes) == 1:
                assert go_name in e.aliases, f"{code}: {go_name} not among {e.id}'s aliases"
            if "never returned" in trigger:
                assert e.k6_never_reported, code
            else:
                assert not e.k6_never_reported, code
        # The `error` string's form, where the notes give one (fixed text or with <...> parts).
        form = re.fullmatch(r"`([^`]+)`(?: \(fixed[^)]*\))?(?:, e\.g\. .*)?", message.strip())
        if form:
            for code in codes:
                e = catalog.for_k6(code)
                doc = form.group(1)
                # section 7: <NAME> is the code's name, or "unknown error code 0x<hex>"
                doc = doc.replace("<NAME>", e.h2_error[0] if e.h2_error else "unknown error code 0x<hex>")
                assert _form(e.k6_message) == _form(doc), (code, e.k6_message, doc)
    # Section 7's table: NAME and the three codes per HTTP/2 error code.
    h2_rows = re.findall(r"^\| 0x([0-9a-f]+) \| ([A-Z_0-9]+) \| (\d+) \| (\d+) \| (\d+) \|$", text, re.M)
    assert len(h2_rows) == 14
    for value, name, goaway, stream, conn in h2_rows:
        for kind, k6 in zip(("goaway", "stream", "connection"), (goaway, stream, conn)):
            assert catalog.for_h2(kind, int(value, 16)).k6_code == int(k6)
            assert catalog.for_k6(int(k6)).h2_error == (name, int(value, 16))
