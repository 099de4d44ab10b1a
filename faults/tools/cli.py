"""``python -m faults``: explain error codes, list the catalog, summarise k6 results.

Commands::

    explain CODE|TEXT     every reading of a k6 code or k6 error text, a curl exit
                          code (curl 56), a gRPC status (grpc 14), an HTTP status,
                          HTTP/2 name, catalog id or 32-bit code, a client's own
                          error (ECONNRESET, ChunkedEncodingError, net::ERR_...):
                          the faults that make it report that; most likely first
    codes                 the whole catalog as a table
    report FILE...        outcomes by k6 error code from k6's ``--out json=FILE``
                          output or from the proxy's JSONL report (several files: summed);
                          ``--html OUT [--plan PLAN] [--score FILE]``: one offline HTML page
                          (faults.htmlreport)
    demo [ARGS...]        the demo (faults.tools.demo), loaded only when asked for
    proxy [ARGS...]       mitmdump with the fault addon loaded; ARGS go to mitmdump;
                          ``--workers N``: N mitmdump workers on one port (faults.tools.workers)
    web [ARGS...]         the same for mitmweb
    addon                 the addon script's path, for ``mitmdump -s "$(faults addon)"``
    score [OPTIONS] -- CMD  run CMD once per fault through the proxy and tabulate what it
                          did on the wire, judged by a policy (faults.score; docs/score.md)

``codes``, ``report`` and ``explain`` take ``--format text|json|markdown``.
Exit status: 0 on success, 1 when nothing matched or the input held no
requests, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterable, Sequence

from faults import catalog, report
from faults.catalog import Entry, search
from faults.classify import matrix

FORMATS = ("text", "json", "markdown")


# --------------------------------------------------------------------------
# Table rendering
# --------------------------------------------------------------------------
def _cell(value) -> str:
    if value is None or value == "":
        return "-"
    return str(value)


def render_table(headers: Sequence[str], rows: Iterable[Sequence], fmt: str = "text",
                 right: Iterable[int] = ()) -> str:
    """A text (aligned columns) or markdown table; ``right`` = right-aligned columns."""
    rows = [[_cell(c) for c in r] for r in rows]
    right = set(right)
    if fmt == "markdown":
        def esc(s: str) -> str:
            return s.replace("|", "\\|").replace("\n", " ")
        out = ["| " + " | ".join(headers) + " |",
               "|" + "|".join("---:" if i in right else "---" for i in range(len(headers))) + "|"]
        out += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
        return "\n".join(out)
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        parts = []
        for i, c in enumerate(cells):
            last = i == len(cells) - 1
            parts.append(c.rjust(widths[i]) if i in right else (c if last else c.ljust(widths[i])))
        return "  ".join(parts).rstrip()

    rule = ["-" * w for w in widths[:-1]] + ["-" * len(headers[-1])]
    return "\n".join([line(headers), line(rule)] + [line(r) for r in rows])


def _pair(p: tuple[str, int] | None, hexa: bool = False) -> str:
    if p is None:
        return "-"
    return f"{p[0]} (0x{p[1]:x})" if hexa else f"{p[0]} ({p[1]})"


# --------------------------------------------------------------------------
# explain
# --------------------------------------------------------------------------
def _k6_line(e: Entry) -> str:
    if e.k6_never_reported:
        return f"{e.k6_code} (documented by k6, but k6 1.1.0 never reports it)"
    if e.k6_code is None:
        if e.grpc_status is not None:
            return "none: k6/net/grpc never sets error_code (response.status holds the gRPC code)"
        return "none: k6 has no error_code for this"
    if e.k6_code == 0:
        return "0 (k6 reports no error)"
    go = [a for a in e.aliases if a.endswith("Code") and a[:1].islower()]
    text = str(e.k6_code) + (f" ({go[0]})" if go else "")
    if e.k6_message:
        text += f"; error = {e.k6_message!r}"
    elif e.k6_code >= 1400 and e.http_status:
        text += " (1000 + status); the error field is empty"
    return text


def explain_lines(how: str, e: Entry) -> list[str]:
    """The text block `explain` prints for one reading."""
    names = [f"id {e.id}", f"code {e.hex_code} ({e.code})"]
    if e.http_status is not None:
        names.append(f"HTTP {e.http_status} {e.name}")
    if e.h2_error is not None:
        names.append(f"HTTP/2 {e.h2_error[0]} (0x{e.h2_error[1]:x})")
    if e.grpc_status is not None:
        names.append(f"gRPC {e.grpc_status[0]} ({e.grpc_status[1]})")
    if e.cloud_code is not None:
        names.append(f"hosted-service code {e.cloud_code}")
    other = [a for a in e.aliases if not (a.endswith("Code") and a[:1].islower())]
    lines = [
        f"{how}  ->  {e.id}",
        f"  name:         {e.name}" + (f" (also: {', '.join(other)})" if other else ""),
        f"  meaning:      {e.description}",
    ]
    if e.cause:
        lines.append(f"  cause:        {e.cause}")
    lines += [
        f"  k6 code:      {_k6_line(e)}",
        f"  all names:    {'; '.join(names)}",
        "  produced by:  " + ("; ".join(e.produced_by) if e.produced_by else "no fault of ours (natural outcome only)"),
    ]
    return lines


def client_lines(text: str) -> list[str]:
    """Which faults make which client report ``text`` (ECONNRESET, ChunkedEncodingError, curl 56),
    from the client profiles (faults.classify.matrix)."""
    by: dict[tuple[str, str], list[str]] = {}
    for client, table, spec, _ in matrix.produced_by(text):
        by.setdefault((client, table), []).append(spec)
    if not by:
        return []
    lines = [f"{text!r} is what these clients report, for these faults:"]
    for (client, table), specs in by.items():
        lines.append(f"  {client} ({table}): " + "; ".join(specs))
    return lines


def cmd_explain(args) -> int:
    text = " ".join(args.code)
    found = search.readings(text)
    clients = matrix.produced_by(text)
    if args.format == "json":
        print(json.dumps({"query": text, "readings": [{"reading": how, **e.as_dict()} for how, e in found],
                          "clients": [{"client": c, "protocol": t, "fault": spec, **r.as_dict()}
                                      for c, t, spec, r in clients]}, indent=2))
        return 0 if found or clients else 1
    if clients and not found:
        print("\n".join(client_lines(text)))
        return 0
    if not found:
        print(f"nothing in the catalog matches {text!r}: try k6's error text (\"unexpected EOF\"), a k6 error "
              "code (1220), a curl exit code (curl 56), an HTTP status (503), an HTTP/2 or gRPC name "
              "(ENHANCE_YOUR_CALM, grpc UNAVAILABLE), an id (network.tcp.reset_by_peer) or a 32-bit code "
              "(0x03030000)", file=sys.stderr)
        return 1
    n = len(found)
    if args.format == "markdown":
        print(f"**{text}** has {n} reading{'s' if n > 1 else ''}" + (", most likely first" if n > 1 else "") + ":\n")
        for how, e in found:
            block = explain_lines(how, e)
            print(f"- **{block[0]}**")
            print("\n".join("  - " + b.strip() for b in block[1:]))
        return 0
    print(f"{text!r} has {n} reading{'s' if n > 1 else ''}" + (", most likely first:" if n > 1 else "."))
    for i, (how, e) in enumerate(found, 1):
        block = explain_lines(how, e)
        print()
        print((f"[{i}] " if n > 1 else "") + block[0])
        print("\n".join(block[1:]))
    if clients:
        print()
        print("\n".join(client_lines(text)))
    return 0


# --------------------------------------------------------------------------
# codes
# --------------------------------------------------------------------------
CODE_HEADERS = ("id", "code", "k6", "hosted", "http", "http2", "grpc", "description")


def cmd_codes(args) -> int:
    items = [e for e in catalog.entries() if not args.domain or e.domain == args.domain]
    if args.format == "json":
        print(json.dumps([e.as_dict() for e in items], indent=2))
        return 0
    rows = []
    for e in items:
        k6 = "-" if e.k6_code is None else (f"{e.k6_code}*" if e.k6_never_reported else e.k6_code)
        rows.append((e.id, e.hex_code, k6, e.cloud_code, e.http_status, _pair(e.h2_error, hexa=True),
                     _pair(e.grpc_status), e.description))
    print(render_table(CODE_HEADERS, rows, args.format))
    print(f"\n{len(items)} entries. * = documented by k6 but never reported by k6 1.1.0.")
    return 0


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------
@dataclass
class Outcome:
    k6_code: int
    entry: Entry | None
    count: int = 0
    messages: Counter = field(default_factory=Counter)
    faults: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)


@dataclass
class Summary:
    path: str
    outcomes: dict[tuple[int, str], Outcome] = field(default_factory=dict)
    sources: Counter = field(default_factory=Counter)
    skipped: int = 0

    @property
    def total(self) -> int:
        return sum(o.count for o in self.outcomes.values())

    def add(self, source: str, k6_code: int, entry: Entry | None, message: str = "",
            fault: str | None = None, status: str | None = None, weight: int = 1) -> None:
        key = (k6_code, entry.id if entry else "")
        o = self.outcomes.setdefault(key, Outcome(k6_code, entry))
        o.count += weight
        self.sources[source] += weight
        if message:
            o.messages[message] += weight
        if fault:
            o.faults[fault] += weight
        if status not in (None, ""):
            o.statuses[str(status)] += weight


def _entry_for(k6_code: int, message: str = "", entry_id: str | None = None) -> Entry | None:
    if entry_id:
        try:
            return catalog.by_id(entry_id)
        except KeyError:
            pass
    try:
        return catalog.for_k6(k6_code, message or None)
    except KeyError:
        return None


def _open(path: str) -> IO[str]:
    if path == "-":
        return sys.stdin
    p = Path(path)
    with p.open("rb") as f:
        magic = f.read(2)
    if magic == b"\x1f\x8b":  # k6 writes gzip when the file name ends in .gz
        return gzip.open(p, "rt", encoding="utf-8", errors="replace")
    return p.open("r", encoding="utf-8", errors="replace")


def _proxy_entry_id(obj: dict) -> str | None:
    for holder in (obj, obj.get("error"), obj.get("annotation")):
        if isinstance(holder, dict) and isinstance(holder.get("id"), str) and holder.get("id", "").count(".") == 2:
            return holder["id"]
    return None


def read_report(path: str, keep=None) -> Summary:
    """Summarise k6 ``--out json`` output and/or proxy report JSONL, detected per line.

    k6 lines count when ``type`` is ``Point`` and ``metric`` is ``http_reqs``
    (``error_code`` tag; absent means 0). Proxy lines are objects with a
    ``k6_error_code``. Other k6 lines (other metrics, ``Metric`` declarations)
    are ignored; lines that are not JSON objects are counted as skipped.
    ``keep``: called with every object read (the HTML page reads each file once).
    """
    s = Summary(path)
    with _open(path) as f:
        for raw in f:
            if not raw.strip():
                continue
            obj = report.parse_line(raw)
            if obj is None:
                s.skipped += 1
                continue
            if keep is not None:
                keep(obj)
            if obj.get("type") == "Point" and obj.get("metric") == "http_reqs":
                tags = (obj.get("data") or {}).get("tags") or {}
                try:
                    code = int(tags.get("error_code") or 0)
                except ValueError:
                    s.skipped += 1
                    continue
                value = (obj.get("data") or {}).get("value", 1)
                weight = int(value) if isinstance(value, (int, float)) and value >= 1 else 1
                msg = tags.get("error") or ""
                s.add("k6", code, _entry_for(code, msg), msg, None, tags.get("status"), weight)
            elif "k6_error_code" in obj:
                try:
                    code = int(obj.get("k6_error_code") or 0)
                except (TypeError, ValueError):
                    s.skipped += 1
                    continue
                msg = obj.get("k6_error") or obj.get("k6_message") or ""
                if not isinstance(msg, str):
                    msg = ""
                fault = obj.get("fault")
                status = obj.get("status", obj.get("http_status"))
                s.add("proxy", code, _entry_for(code, msg, _proxy_entry_id(obj)), msg,
                      str(fault) if fault else "none", None if isinstance(status, dict) else status)
            elif "type" in obj and "metric" in obj:
                continue  # another k6 metric or a metric declaration
            else:
                s.skipped += 1
    return s


def _top(counter: Counter, n: int = 3) -> str:
    return "; ".join(f"{k} ({v})" if len(counter) > 1 else k for k, v in counter.most_common(n)) or "-"


def summary_rows(s: Summary) -> list[dict]:
    total = s.total
    rows = []
    for o in sorted(s.outcomes.values(), key=lambda o: (-o.count, o.k6_code)):
        e = o.entry
        rows.append({
            "k6_error_code": o.k6_code,
            "count": o.count,
            "percent": round(100.0 * o.count / total, 1) if total else 0.0,
            "id": e.id if e else None,
            "code": e.code if e else None,
            "name": e.name if e else None,
            "description": e.description if e else "not in the catalog",
            "messages": dict(o.messages),
            "faults": dict(o.faults),
            "statuses": dict(o.statuses),
        })
    return rows


def merge(summaries: list[Summary]) -> Summary:
    """One summary of several files (e.g. one report per proxy, or k6's and the proxy's)."""
    if len(summaries) == 1:
        return summaries[0]
    out = Summary(", ".join(s.path for s in summaries))
    for s in summaries:
        for key, o in s.outcomes.items():
            m = out.outcomes.setdefault(key, Outcome(o.k6_code, o.entry))
            m.count += o.count
            m.messages.update(o.messages)
            m.faults.update(o.faults)
            m.statuses.update(o.statuses)
        out.sources.update(s.sources)
        out.skipped += s.skipped
    return out


def cmd_report(args) -> int:
    if (args.plan or args.score) and not args.html:
        print("faults report: --plan and --score go with --html OUT", file=sys.stderr)
        return 2
    summaries, records = [], []
    keep = None
    if args.html:
        from faults.htmlreport.timeline import slim

        def keep(obj):
            rec = slim(obj)
            if rec is not None:
                records.append(rec)
    for path in args.file:
        try:
            summaries.append(read_report(path, keep))
        except OSError as e:
            print(f"cannot read {path}: {e.strerror or e}", file=sys.stderr)
            return 2
    s = merge(summaries)
    args.sources, args.file = list(args.file), s.path
    rows = summary_rows(s)
    if args.html:
        return write_html(args, records, rows)
    if args.format == "json":
        print(json.dumps({"file": s.path, "total": s.total, "sources": dict(s.sources),
                          "skipped_lines": s.skipped, "outcomes": rows}, indent=2))
        return 0 if rows else 1
    if not rows:
        print(f"{args.file}: no HTTP request samples (k6 http_reqs points) or proxy report records found"
              + (f"; {s.skipped} line(s) were not understood" if s.skipped else ""), file=sys.stderr)
        return 1
    with_faults = any(r["faults"] for r in rows)
    with_msgs = any(r["messages"] for r in rows)
    headers = ["k6 code", "count", "percent", "id"]
    headers += ["faults"] if with_faults else []
    headers += ["k6 error"] if with_msgs else []
    headers += ["explanation"]
    table = []
    for r in rows:
        line = [r["k6_error_code"], r["count"], f"{r['percent']:.1f}%", r["id"]]
        if with_faults:
            line.append(_top(Counter(r["faults"])))
        if with_msgs:
            line.append(_top(Counter(r["messages"]), 2))
        line.append(r["description"])
        table.append(line)
    src = ", ".join(f"{n} from {'k6 JSON output' if k == 'k6' else 'the proxy report'}"
                    for k, n in s.sources.items())
    head = f"{s.path}: {s.total} requests ({src})"
    if args.format == "markdown":
        print(f"**{head}**\n")
    else:
        print(head + "\n")
    print(render_table(headers, table, args.format, right=(0, 1, 2)))
    if s.skipped:
        print(f"\n{s.skipped} line(s) were not understood and were skipped.")
    return 0


def write_html(args, records: list[dict], rows: list[dict]) -> int:
    """``faults report --html OUT``: the page (faults.htmlreport) of the proxy's ``records``
    and the table by k6 code ``rows``; one line on stdout."""
    from faults.htmlreport import lanes, render
    from faults.spec import SpecError

    plan, score = [], None
    try:
        if args.plan:
            plan = lanes.from_plan(args.plan)
        if args.score:
            score = read_score(args.score)
        page = render.render(records, code_rows=rows, score=score, plan=plan, sources=list(args.sources),
                             title=f"faults report: {len(records)} records")
    except (SpecError, ValueError) as e:
        print(f"faults report: {e}", file=sys.stderr)
        return 2
    try:
        Path(args.html).write_text(page, encoding="utf-8")
    except OSError as e:
        print(f"faults report: cannot write {args.html}: {e.strerror or e}", file=sys.stderr)
        return 2
    print(f"{args.html}: {len(records)} proxy records" + (f", {len(score)} scorecard rows" if score else ""))
    return 0 if records or rows or score else 1


def read_score(path: str) -> list[dict]:
    """The rows of a ``faults score --json`` file (``{"rows": [...]}``); ValueError says what is wrong."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise ValueError(f"--score {path}: cannot read it: {e.strerror or e}") from None
    except ValueError as e:
        raise ValueError(f"--score {path}: not JSON ({e})") from None
    rows = doc.get("rows") if isinstance(doc, dict) else None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ValueError(f"--score {path}: expected {{\"rows\": [{{\"fault\": ..., \"verdict\": ...}}, ...]}} "
                         "(faults score --json)")
    return rows


# --------------------------------------------------------------------------
# demo (lazy) and main
# --------------------------------------------------------------------------
def cmd_demo(argv: list[str]) -> int:
    try:
        from faults.tools.demo import main as demo_main
    except ImportError as e:
        print(f"the demo is not available in this installation ({e}); "
              "faults.tools.demo could not be imported", file=sys.stderr)
        return 2
    rc = demo_main(argv)
    return rc if isinstance(rc, int) else 0


def addon_path() -> Path:
    from faults.tools.launch import ADDON

    return ADDON


def cmd_run_tool(tool: str, argv: list[str]) -> int:
    """Replace this process with mitmdump/mitmweb plus our addon, so signals,
    exit status and the terminal are mitmproxy's own."""
    from faults.tools.launch import tool_path

    exe = tool_path(tool)
    args = [exe, "-s", str(addon_path()), *argv]
    try:
        os.execv(exe, args)
    except OSError as e:
        print(f"cannot run {tool} ({exe}): {e.strerror or e}; is mitmproxy installed in this environment?",
              file=sys.stderr)
        return 2
    return 0  # pragma: no cover - execv does not return


PASSTHROUGH = {"proxy": "mitmdump", "web": "mitmweb"}


def cmd_proxy(command: str, argv: list[str]) -> int:
    """``faults proxy|web ARGS``; ``faults proxy --workers N ARGS`` runs N workers on one
    port under a supervisor (faults.tools.workers); every other argument is mitmproxy's."""
    from faults.tools import workers

    try:
        n, rest = workers.take_workers(argv)
    except workers.UsageError as e:
        print(f"faults {command}: {e}", file=sys.stderr)
        return 2
    if n is not None and command != "proxy":
        print(f"faults {command}: --workers is for faults proxy (mitmdump) only", file=sys.stderr)
        return 2
    if n is None or n == 1:
        return cmd_run_tool(PASSTHROUGH[command], rest)
    return workers.main(n, rest)


# --------------------------------------------------------------------------
# --version: what a bug report needs
# --------------------------------------------------------------------------
DIST = "mitm-faults"


def versions() -> list[str]:
    """This package's, mitmproxy's, k6's and Python's versions, one per line; a
    missing piece is named as missing, never an error."""
    import platform
    import subprocess
    from importlib import metadata

    from faults.tools.k6run import k6_path

    def dist(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    k6 = k6_path()
    try:
        out = subprocess.run([k6, "version"], capture_output=True, text=True, timeout=15)
        k6_line = (out.stdout.strip().splitlines() or [f"exit {out.returncode}"])[0]
    except (OSError, subprocess.SubprocessError) as e:
        k6_line = f"not found ({k6}: {getattr(e, 'strerror', None) or e})"
    return [f"faults ({DIST}) {dist(DIST)} at {Path(__file__).resolve().parents[1]}",
            f"mitmproxy {dist('mitmproxy')}",
            f"k6 {k6_line.removeprefix('k6 ')}",
            f"python {platform.python_version()}"]


class _Version(argparse.Action):
    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print("\n".join(versions()))
        parser.exit(0)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="faults", description="Fault-injecting proxy tools: run the proxy with the addon, explain error "
                                   "codes and client error texts, summarise k6 results.")
    p.add_argument("--version", action=_Version,
                   help="print this package's, mitmproxy's, k6's and Python's versions (for bug reports)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    e = sub.add_parser("explain", help="explain a k6 code or error text, curl exit code, HTTP status, HTTP/2 "
                                       "or gRPC code, id or 32-bit code",
                       description="Every name a code has, what causes it and which fault produces it. "
                                   "Takes what clients print: k6's error text ('read: connection reset by "
                                   "peer', 'unexpected EOF', 'request timeout', or a whole k6 log line), "
                                   "'curl 56' or 'curl: (56) ...', 'grpc 14' or 'StatusCode.UNAVAILABLE'. "
                                   "Ambiguous input (e.g. 14, UNAVAILABLE, curl 35) lists each reading, "
                                   "most likely first.")
    e.add_argument("code", nargs="+", metavar="CODE|TEXT")
    e.add_argument("--format", choices=FORMATS, default="text")
    e.set_defaults(func=cmd_explain)

    c = sub.add_parser("codes", help="the whole catalog as a table")
    c.add_argument("--format", choices=FORMATS, default="text")
    c.add_argument("--domain", choices=sorted(catalog.DOMAINS), help="only this domain")
    c.set_defaults(func=cmd_codes)

    r = sub.add_parser("report", help="outcomes by error code from k6 --out json or a proxy report",
                       description="Read k6's --out json=FILE output (http_reqs points) or the proxy's "
                                   "JSONL report (records with k6_error_code), detected per line, and "
                                   "print outcomes by k6 error code with counts, percentages and "
                                   "explanations. FILE may be gzip-compressed or '-' for stdin.")
    r.add_argument("file", metavar="FILE", nargs="+", help="one or more files, summed (e.g. one report per proxy)")
    r.add_argument("--format", choices=FORMATS, default="text")
    r.add_argument("--html", metavar="OUT", help="write one self-contained HTML page instead (works offline): "
                   "a timeline of requests per second by outcome with each rule's lane, the tables by rule, "
                   "by k6 code and per client")
    r.add_argument("--plan", metavar="PLAN", help="with --html: the plan file of the run, for the rules' windows "
                   "and probability ramps")
    r.add_argument("--score", metavar="FILE", help="with --html: a scorecard (faults score --json FILE) to include")
    r.set_defaults(func=cmd_report)

    sub.add_parser("demo", help="run the demo (proxy + upstream + k6); arguments go to the demo",
                   add_help=False)
    sub.add_parser("proxy", help="run mitmdump with the fault addon; arguments go to mitmdump "
                                 "(--workers N: N mitmdump workers on one port)", add_help=False)
    sub.add_parser("web", help="run mitmweb with the fault addon; arguments go to mitmweb", add_help=False)
    sub.add_parser("score", help="run CMD once per fault through the proxy and score what it did on the wire "
                                 "(faults score --help)", add_help=False)
    a = sub.add_parser("addon", help="print the addon script's path (mitmdump -s \"$(faults addon)\")")
    a.set_defaults(func=lambda args: print(addon_path()) or 0)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m faults`` and the ``faults`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "demo":
        return cmd_demo(argv[1:])
    if argv and argv[0] in PASSTHROUGH:  # not argparse: every argument is mitmproxy's
        return cmd_proxy(argv[0], argv[1:])
    if argv and argv[0] == "score":  # its own parser: CMD's arguments after -- are CMD's
        from faults.score.cli import main as score_main

        return score_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:  # e.g. `faults codes | head`
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
