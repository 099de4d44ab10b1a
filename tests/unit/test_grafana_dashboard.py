"""examples/grafana/faults-dashboard.json: a dashboard Grafana can import, whose every
query names a metric (and labels) that fault_metrics really serves."""

import json
import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from faults.metrics import Metrics

DASHBOARD = Path(__file__).resolve().parents[2] / "examples" / "grafana" / "faults-dashboard.json"
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset"}


def served() -> dict[str, set[str]]:
    """Metric name (as a query names it) -> its label names, from a live Metrics' exposition."""
    m = Metrics()
    m.started("f", "r")
    m.finished("f", 1503, {"rule": "r", "spec": "status code=503"}, {"k6": {"error": 1503}})
    out: dict[str, set[str]] = {}
    for fam in text_string_to_metric_families(m.text()):
        for s in fam.samples:
            out.setdefault(s.name, set()).update(s.labels)
    return out


def metric_refs(expr: str) -> list[tuple[str, set[str]]]:
    """(metric name, label names it is matched or grouped by) for each selector in a PromQL expression."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range selectors
    groups = set()
    for g in re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", expr):
        groups.update(x.strip() for x in g.split(",") if x.strip())
    expr = re.sub(r"\b(?:by|without|on|ignoring)\s*\([^)]*\)", "", expr)
    refs = []
    for m in re.finditer(r"(?<![A-Za-z0-9_:$])([A-Za-z_:][A-Za-z0-9_:]*)(?![A-Za-z0-9_:])\s*(\{[^}]*\})?", expr):
        name, matchers = m.groups()
        if name in KEYWORDS or (not matchers and expr[m.end():].lstrip().startswith("(")):
            continue  # a keyword or a function (sum, rate, ...)
        labels = set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)", matchers or ""))
        refs.append((name, labels | groups))
    return refs


def exprs(dash) -> list[str]:
    out = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    for v in dash["templating"]["list"]:
        q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
        m = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", q)
        assert m, q
        out.append(f"{m.group(1)}{{{m.group(2)}=\"\"}}")
    return out


def test_the_dashboard_is_importable():
    dash = json.loads(DASHBOARD.read_text())
    assert dash["uid"] and dash["title"] and dash["schemaVersion"] >= 36
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)) and len(ids) >= 4
    inputs = {f"${{{i['name']}}}" for i in dash["__inputs"]}
    for p in dash["panels"]:
        assert p["type"] in ("timeseries", "stat") and p["title"]
        assert set(p["gridPos"]) == {"x", "y", "w", "h"} and p["gridPos"]["x"] + p["gridPos"]["w"] <= 24
        assert p["datasource"]["uid"] in inputs and p["targets"]
        assert all(t["refId"] and t["datasource"]["uid"] in inputs for t in p["targets"])


def test_every_query_names_a_served_metric_and_its_labels():
    have = served()
    for expr in exprs(json.loads(DASHBOARD.read_text())):
        refs = metric_refs(expr)
        assert refs, expr
        for name, labels in refs:
            assert name in have, f"{expr}: {name} is not a metric fault_metrics serves ({sorted(have)})"
            assert labels <= have[name], f"{expr}: {name} has no label(s) {labels - have[name]}"


def test_the_checker_catches_a_wrong_name():
    have = served()
    assert [n for n, _ in metric_refs('sum by (k6_code) (rate(faults_flow_total{k6_code!="0"}[5m]))')] == ["faults_flow_total"]
    assert "faults_flow_total" not in have
    assert metric_refs("sum by (rule) (faults_active)") == [("faults_active", {"rule"})]
    name, labels = metric_refs('faults_active{kind="status"}')[0]
    assert not labels <= have[name]  # faults_active has no kind label: caught
