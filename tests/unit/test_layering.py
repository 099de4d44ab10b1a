"""The house rules of the package layout (issue 11): no import cycle inside
``faults``, the classifier never reaches the wire package, and only
``faults.wire`` imports mitmproxy's private proxy layers."""

import ast
import collections
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "faults"


def _modules() -> dict[str, Path]:
    out = {}
    for p in ROOT.rglob("*.py"):
        name = ".".join(p.relative_to(ROOT.parent).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = p
    return out


def _graph(mods) -> dict[str, set[str]]:
    graph = collections.defaultdict(set)
    for name, p in mods.items():
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ("faults", "mitmproxy"):
                for a in node.names:
                    full = f"{node.module}.{a.name}"
                    graph[name].add(full if full in mods else node.module)
            elif isinstance(node, ast.Import):
                graph[name].update(a.name for a in node.names)
    return graph


def _reach(graph, start) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        n = todo.pop()
        for m in graph.get(n, ()):
            if m.startswith("faults") and m not in seen:
                seen.add(m)
                todo.append(m)
    return seen


def test_no_import_cycle():
    mods = _modules()
    graph = _graph(mods)
    for n in mods:
        for m in graph[n]:
            if m in mods and m != n and not m.startswith(n + ".") and not n.startswith(m + "."):
                # an edge n -> m is part of a cycle when m reaches n back (a package and its
                # own submodules excepted: importing a submodule runs its package first)
                back = {x for x in _reach(graph, m) if not x.startswith(m + ".")}
                assert n not in back, f"import cycle: {n} -> {m} -> ... -> {n}"


def test_classifier_never_reaches_the_wire():
    mods = _modules()
    graph = _graph(mods)
    for n in mods:
        if n.startswith("faults.classify"):
            assert not {m for m in _reach(graph, n) if m.startswith("faults.wire")}, n


def test_only_the_wire_imports_mitmproxys_proxy_layers():
    graph = _graph(_modules())
    for n, deps in graph.items():
        private = {d for d in deps if d.startswith("mitmproxy.") and (d.startswith("mitmproxy.proxy.layers") or "._" in d)}
        assert not private or n.startswith("faults.wire"), (n, private)


def test_no_addon_looks_another_up_by_name():
    """``FaultAddon`` (faults/addons/__init__.py) hands every child what it uses;
    mitmproxy's own addons are found by type (``faults.wire.builtin``). A lookup by
    name silently finds nothing after a rename (a TLS fault or a DNS record just
    stops happening)."""
    sources = [*ROOT.rglob("*.py"), *(ROOT.parent / "addons").glob("*.py")]
    assert [str(p) for p in sources if "addons.get(" in p.read_text()] == []


def test_every_child_addon_declares_its_name():
    """mitmproxy registers an addon under its ``name`` (else its lowercased class
    name): declared, a class rename cannot change what it is registered as."""
    from faults.addons import FaultAddon

    children = FaultAddon().children
    assert [type(c).__name__ for c in [FaultAddon(), *children] if "name" not in type(c).__dict__] == []
    names = [c.name for c in children]
    assert len(set(names)) == len(names)


def test_the_scorecard_reads_records_not_the_proxy():
    """faults.score drives the proxy through its control endpoint and reads its report
    records: it never imports mitmproxy, the addons, the wire or the classifier."""
    graph = _graph(_modules())
    for n, deps in graph.items():
        if n.startswith("faults.score"):
            inside = {d for d in deps if d.split(".")[0] == "mitmproxy"
                      or d.startswith(("faults.addons", "faults.wire", "faults.classify"))}
            assert not inside, (n, inside)
