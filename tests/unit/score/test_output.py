import io
import json

from faults.score import output

ROW = {"fault": "status code=503", "attempts": 3, "intervals_ms": [1000, 1000], "methods": ["GET"] * 3,
       "resent_methods": ["GET"], "retry_after_honoured": None, "new_connection": None, "gave_up_ms": 2010,
       "exit_code": 0, "hung": False, "duration_ms": 2050, "stderr_tail": ["x < y"], "clients": {"k6": 1503},
       "verdict": "fail", "reasons": ["3 attempts > max_attempts 2"], "changed": ["attempts"]}


def test_live_table_row():
    out = io.StringIO()
    live = output.Live(2, out=out, err=io.StringIO())
    live.row(2, ROW)
    text = out.getvalue()
    assert "2/2" in text and "GETx3" in text and "1000,1000" in text and "changed: attempts" in text
    assert "- 3 attempts > max_attempts 2" in text


def test_changes_within_noise():
    before = dict(ROW, intervals_ms=[1100, 950])
    assert output.changes(ROW, before) == []
    assert output.changes(ROW, dict(ROW, intervals_ms=[200, 200])) == ["intervals_ms"]
    assert output.changes(ROW, dict(ROW, attempts=1, hung=True)) == ["attempts", "hung"]
    assert output.changes(ROW, None) is None


def test_files(tmp_path):
    doc = output.document([ROW], None, {"command": "curl <x>", "url": "http://127.0.0.1:1", "timeout": 10,
                                        "policy": None, "baseline_file": None})
    output.write_json(tmp_path / "r.json", doc)
    assert output.load_baseline(tmp_path / "r.json") == {"status code=503": ROW}
    output.write_junit(tmp_path / "r.xml", [ROW], doc["meta"])
    import xml.etree.ElementTree as ET

    suite = ET.parse(tmp_path / "r.xml").getroot()[0]
    case = suite.find("testcase")
    assert suite.get("failures") == "1" and case.get("name") == "status code=503"
    assert case.find("failure").get("message") == "3 attempts > max_attempts 2"
    output.write_html(tmp_path / "r.html", doc)
    html = (tmp_path / "r.html").read_text()
    assert "curl &lt;x&gt;" in html and "x &lt; y" in html and "3 attempts &gt; max_attempts 2" in html
    assert "<script" not in html and "default-src 'none'" in html


def test_the_score_page_and_the_reports_scorecard_are_one_rendering(tmp_path):
    """faults score --html and faults report --html --score show the same scorecard table."""
    from faults.htmlreport import render

    doc = output.document([ROW], None, {"command": "c", "url": "u", "timeout": 1, "policy": None,
                                        "baseline_file": None})
    output.write_html(tmp_path / "s.html", doc)

    def table(html):
        return html[html.index('<table id="scorecard">'):html.index("</table>", html.index('id="scorecard"'))]

    assert table((tmp_path / "s.html").read_text()) == table(render.render([], score=[ROW]))
    assert 'class="fail changed"' in table(render.render([], score=[ROW]))


def test_bad_baseline_is_one_line(tmp_path):
    import pytest

    from faults.errors import SpecError

    (tmp_path / "b.json").write_text(json.dumps({"no": "rows"}))
    with pytest.raises(SpecError, match="not a saved faults score --json file"):
        output.load_baseline(tmp_path / "b.json")
