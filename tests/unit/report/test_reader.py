"""faults/report/reader.py: lines that do not parse are skipped; a reader following a
file gets only complete lines, the one being written is left for its next call."""

from faults.report import reader


def test_parse_line_keeps_only_objects():
    assert reader.parse_line(b' {"a": 1}\n') == {"a": 1}
    assert [reader.parse_line(x) for x in ("", "  ", "not json", "[1]", "3")] == [None] * 5


def test_read_from_leaves_a_partial_line_for_the_next_call(tmp_path):
    p = tmp_path / "r.jsonl"
    p.write_bytes(b'{"n": 1}\nnot json\n{"n": 2}\n{"n": 3')
    recs, offset = reader.read_from(p)
    assert recs == [{"n": 1}, {"n": 2}] and offset == len(b'{"n": 1}\nnot json\n{"n": 2}\n')
    with p.open("ab") as fh:
        fh.write(b"}\n")
    assert reader.read_from(p, offset) == ([{"n": 3}], p.stat().st_size)
    assert reader.read(p) == [{"n": 1}, {"n": 2}, {"n": 3}]
