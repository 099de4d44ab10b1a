"""The product's one HTML renderer: ``faults report --html`` (``render``: report records,
their timeline, tables and an optional scorecard) and ``faults score --html``
(``render_score``: the scorecard alone). One Jinja2 environment (autoescaping) over
``templates/``: ``base.html.j2`` is the page shell both extend, ``scorecard.html.j2`` the
scorecard both show. Templates get plain values; the SVG's geometry is computed here,
its markup is the template's.

Self-contained means offline: no script, no external resource, and a
Content-Security-Policy of ``default-src 'none'`` that would block one anyway.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from faults.htmlreport import lanes as lanesmod, tables, timeline

PLOT_W = 900.0  # px, the plot's width in the SVG's own units (it scales to the page)
LEFT = 56.0  # room for the y axis labels
CHART_H = 220.0
TOP = 24.0  # room above the chart for its unit and the top tick label
LANE_LABEL_H = 16.0
LANE_H = 26.0
HIT_H = LANE_H * 0.6  # the marks of injections stay low: the window's shading shows above them
TICKS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)
PALETTE = ("#d1495b", "#edae49", "#00798c", "#8e44ad", "#3d5a80", "#e07a5f", "#6a994e", "#b56576",
           "#355070", "#f28482", "#7f5539", "#118ab2")
MAX_LANES = 60  # a 10,000-rule plan draws the rules that matter, and the table lists them all
FIXED = {"0": "#2e9e5b", "ws": "#7a8ca3", "none": "#9e9e9e"}
NAMES = {"ws": "WebSocket session (k6 sets no error_code)", "none": "no k6 code known"}


@dataclass
class Page:
    """What the template shows (``render`` builds it)."""
    title: str
    sources: list[str]
    total: int
    faulted: int
    timeline: timeline.Timeline | None
    svg: dict | None
    legend: list[dict]
    rules: list[dict]
    codes: list[dict]
    clients: list[dict]
    score: dict | None
    lanes_left_out: int = 0
    max_lanes: int = MAX_LANES


def render(records: list[dict], *, code_rows: list[dict] | None = None, score: list[dict] | None = None,
           plan: list[lanesmod.Lane] | None = None, title: str = "faults report",
           sources: list[str] | None = None) -> str:
    """The page's HTML. ``records``: the proxy's report records (whole, or ``timeline.slim``);
    ``code_rows``: the table by k6 code (``faults.tools.cli.summary_rows``); ``score``: a
    scorecard's rows (``faults score --json``); ``plan``: lanes read from a plan file."""
    page = build(records, code_rows=code_rows, score=score, plan=plan, title=title, sources=sources)
    return template("report.html.j2").render(page=page)


def build(records, *, code_rows=None, score=None, plan=None, title="faults report", sources=None) -> Page:
    lanes = lanesmod.merge(list(plan or []), records)
    ends = [b for ln in lanes for _, b in ln.windows if b is not None] + [t for ln in lanes for t, _ in ln.ramp]
    tl = timeline.build(records, extra_end=max(ends, default=0.0)) if records or lanes else None
    times = timeline.times(records)[0] if records else []
    colors = _colors(tl.outcomes if tl else [])
    names = {str(r["k6_error_code"]): r.get("id") or r.get("name") or "" for r in code_rows or []}
    legend = [{"outcome": o, "color": colors[o], "count": tl.totals[o],
               "name": names.get(o) or NAMES.get(o, "")} for o in (tl.outcomes if tl else [])]
    rules = tables.by_rule(records, times, lanes)
    for r in rules:
        r["windows"] = tables.windows_text(r["lane"])
    drawn = drawn_lanes(lanes, tl)
    return Page(title=title, sources=list(sources or []), total=len(records),
                faulted=sum(1 for r in records if r.get("rule")), timeline=tl,
                svg=svg(tl, drawn, colors) if tl else None, legend=legend, rules=rules,
                codes=list(code_rows or []), clients=tables.by_client(records),
                score=tables.scorecard(score) if score else None,
                lanes_left_out=len(lanes) - len(drawn))


def drawn_lanes(lanes: list[lanesmod.Lane], tl) -> list[lanesmod.Lane]:
    """Every lane, or, past ``MAX_LANES``, the first of those that were applied or have a
    window or probability to show."""
    if len(lanes) <= MAX_LANES:
        return lanes
    hit = tl.injected if tl else {}
    return [ln for ln in lanes if ln.rule in hit or ln.windows or ln.ramp or ln.probability is not None][:MAX_LANES]


def _colors(outcomes: list[str]) -> dict[str, str]:
    out, i = {}, 0
    for o in outcomes:
        if o in FIXED:
            out[o] = FIXED[o]
        else:
            out[o] = PALETTE[i % len(PALETTE)]
            i += 1
    return out


def nice_step(top: float, most: int = 5) -> float:
    """A round step (1, 2, 5 x 10^k) for at most ``most`` ticks up to ``top``."""
    if top <= 0:
        return 1.0
    raw = top / most
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * mag >= raw:
            return m * mag
    return 10 * mag


def svg(tl: timeline.Timeline, lanes: list[lanesmod.Lane], colors: dict[str, str]) -> dict:
    """The timeline's shapes: stacked bars (requests per second by outcome), axes, and
    one lane per rule (windows shaded, the probability's ramp drawn, injections marked)."""
    bw = PLOT_W / tl.buckets
    x_of = lambda t: LEFT + min(max(t, 0.0), tl.end) / tl.end * PLOT_W  # noqa: E731
    peak_rate = tl.peak / tl.width
    step = nice_step(peak_rate or 1)
    top = max(step, math.ceil(peak_rate / step) * step)
    scale = CHART_H / (top * tl.width)  # px per record in one bucket
    base = TOP + CHART_H  # the time axis
    bars = []
    for i in range(tl.buckets):
        y = base
        for o in tl.outcomes:
            n = tl.counts[o][i]
            if not n:
                continue
            h = n * scale
            y -= h
            bars.append({"x": LEFT + i * bw, "y": y, "w": max(bw - 0.5, 0.5), "h": h, "outcome": o, "count": n,
                         "start": tl.start(i), "color": colors[o]})
    yticks = [{"y": base - v * tl.width * scale, "label": f"{v:g}"}
              for v in (k * step for k in range(int(round(top / step)) + 1))]
    tstep = next((s for s in TICKS if tl.end / s <= 10), TICKS[-1])
    xticks = [{"x": x_of(k * tstep), "label": f"{k * tstep:g}s"} for k in range(int(tl.end // tstep) + 1)]
    rows = []
    y0 = base + 28
    for ln in lanes:
        hits = tl.injected.get(ln.rule, [])
        peak = max(hits, default=0) or 1
        top_y = y0 + LANE_LABEL_H
        ramp = list(ln.ramp)
        if not ramp and ln.probability is not None:  # a constant: flat over its windows (or the run)
            spans = ln.windows or [(0.0, tl.end)]
            ramp = [pt for a, b in spans for pt in ((a, ln.probability), (b if b is not None else tl.end, ln.probability))]
        rows.append({
            "rule": ln.rule, "label_y": y0 + LANE_LABEL_H - 4, "y": top_y, "h": LANE_H,
            "injected": sum(hits), "windows_text": tables.windows_text(ln),
            "windows": [{"x": x_of(a), "w": max(x_of(b if b is not None else tl.end) - x_of(a), 1.0),
                         "from": a, "to": b} for a, b in ln.windows],
            "ramp": " ".join(f"{x_of(t):.1f},{top_y + LANE_H * (1 - p):.1f}" for t, p in ramp),
            "ramp_data": " ".join(f"{t:g}:{p:g}" for t, p in ramp),
            "hits": [{"x": LEFT + i * bw, "w": max(bw - 0.5, 0.5), "h": h, "y": top_y + LANE_H - h,
                      "count": n, "start": tl.start(i)}
                     for i, n in enumerate(hits) if n for h in (max(HIT_H * n / peak, 1.5),)],
        })
        y0 = top_y + LANE_H + 6
    return {"width": LEFT + PLOT_W + 10, "height": y0 + 4, "left": LEFT, "plot_w": PLOT_W, "base": base,
            "bars": bars, "yticks": yticks, "xticks": xticks, "lanes": rows, "bucket": tl.width,
            "end": tl.end}


def render_score(doc: dict) -> str:
    """``faults score --html``: the page of a score document (``faults.score.output.document``:
    ``meta``, ``baseline_run``, ``rows``)."""
    return template("score.html.j2").render(meta=doc["meta"], baseline_run=doc.get("baseline_run"),
                                            card=tables.scorecard(doc["rows"]))


_env = None


def template(name: str):
    """A page template, from the package (works from any install: package data)."""
    global _env
    if _env is None:
        import jinja2

        _env = jinja2.Environment(loader=jinja2.PackageLoader("faults.htmlreport", "templates"),
                                  autoescape=True, undefined=jinja2.StrictUndefined,
                                  trim_blocks=True, lstrip_blocks=True)
    return _env.get_template(name)
