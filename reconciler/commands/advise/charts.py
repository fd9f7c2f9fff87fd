"""Charts of the advice as inline SVG, drawn by matplotlib (its SVG backend, no display needed).
Text stays text (``svg.fonttype: none``), so the page is small and searchable; each function
returns one ``<svg>`` element, or ``None`` when there is nothing to draw."""

from __future__ import annotations

import io
import re
from typing import Any

BEFORE, AFTER, MARKED, PLAIN, MUTED = "#9aa5b1", "#2f7d4f", "#c0392b", "#3b6ea5", "#d9a441"
_HEADER = re.compile(r"^.*?(<svg\b)", re.DOTALL)


def _figure(rows: float, width: float = 9.0) -> Any:
    from matplotlib.figure import Figure
    height = max(1.6, 0.6 + 0.32 * rows)
    return Figure(figsize=(width, height), layout="constrained")


def _svg(figure: Any) -> str:
    import matplotlib
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "font.size": 9, "svg.hashsalt": "pgrecon"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return _HEADER.sub(r"\1", buffer.getvalue(), count=1)


def _short(text: str, length: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else text[:length - 1] + "…"


def _side_by_side(labels: list[str], panels: list[tuple[list[float], Any, str, str]],
                  width_ratios: tuple[float, ...] | None = None) -> str:
    """Horizontal bars for the same ``labels`` in panels sharing the y axis, each panel
    ``(values, color or colors, x label, title)``."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator
    figure = _figure(len(labels), 10)
    for axes, (values, color, xlabel, title) in zip(
            figure.subplots(1, len(panels), sharey=True, width_ratios=width_ratios), panels, strict=True):
        axes.barh(labels, values, color=color)
        axes.set_xlabel(xlabel)
        axes.set_title(title)
        # at most 5 ticks, each short (12k, 3.4M): counts of tens of thousands no longer collide
        axes.xaxis.set_major_locator(MaxNLocator(nbins=5))
        axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: compact(value)))
    return _svg(figure)


def compact(value: float) -> str:
    """A tick label of at most 5 characters: 950, 12k, 3.4M, 1.2G."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            scaled = value / limit
            return f"{scaled:.1f}".rstrip("0").rstrip(".") + suffix if abs(scaled) < 10 else f"{scaled:.0f}{suffix}"
    return f"{value:g}" if abs(value) >= 1 or value == 0 else f"{value:.2g}"


def statement_times(statements: list[dict[str, Any]]) -> str | None:
    """Total and mean execution time per statement of the workload."""
    rows = sorted(statements, key=lambda s: s["total_ms"])[-15:]
    if not rows:
        return None
    return _side_by_side([_short(s["query"]) for s in rows], [
        ([s["total_ms"] for s in rows], PLAIN, "total time (ms)", "time per statement: total"),
        ([s["mean_ms"] for s in rows], MUTED, "mean time per call (ms)", "mean")], width_ratios=(3, 2))


def recommendation_effects(recommendations: list[dict[str, Any]]) -> str | None:
    """Estimated cost of each statement a recommendation helps, before and after it (log scale)."""
    pairs = [(r["name"], h) for r in recommendations for h in r.get("helps") or []][:30]
    if not pairs:
        return None
    figure = _figure(len(pairs) * 1.6, 10)
    axes = figure.subplots()
    labels = [f"{name}: {_short(h['query'], 45)}" for name, h in pairs]
    positions = list(range(len(pairs)))
    axes.barh([p + 0.2 for p in positions], [h["cost_before"] for _, h in pairs], height=0.4, color=BEFORE,
              label="before")
    axes.barh([p - 0.2 for p in positions], [max(h["cost_after"], 0.01) for _, h in pairs], height=0.4,
              color=AFTER, label="after")
    axes.set_yticks(positions, labels)
    axes.invert_yaxis()
    axes.set_xscale("log")
    axes.set_xlabel("estimated cost per call (planner units, log scale)")
    axes.set_title("each recommendation's effect per statement")
    axes.legend(loc="lower right")
    return _svg(figure)


def index_usage(usage: list[dict[str, Any]], unused: set[str], redundant: set[str]) -> str | None:
    """Size and scans of the existing indexes; unused and redundant ones marked."""
    rows = sorted(usage, key=lambda r: r["size_bytes"])[-20:]
    if not rows:
        return None
    labels = [f"{r['index']} ({'unused' if r['index'] in unused else 'redundant'})"
              if r["index"] in unused | redundant else r["index"] for r in rows]
    colors = [MARKED if r["index"] in unused | redundant else PLAIN for r in rows]
    return _side_by_side(labels, [
        ([r["size_bytes"] / 1024 for r in rows], colors, "size (kB)", "index sizes (red: unused or redundant)"),
        ([r["scans"] for r in rows], colors, "scans since the statistics began", "index scans")])


def bloat(tables: list[dict[str, Any]], indexes: list[dict[str, Any]]) -> str | None:
    """Estimated table and btree index bloat."""
    table_rows = [t for t in tables if t.get("bloat_pct") is not None][-15:]
    if not table_rows and not indexes:
        return None
    figure = _figure(max(len(table_rows), len(indexes), 1), 10)
    left, right = figure.subplots(1, 2)
    left.barh([t["table"] for t in table_rows], [t["bloat_pct"] for t in table_rows], color=MUTED)
    left.set_xlim(0, 100)
    left.set_xlabel("estimated bloat (%)")
    left.set_title("tables")
    right.barh([i["index"] for i in indexes], [i["bloat_pct"] for i in indexes], color=MUTED)
    right.set_xlim(0, 100)
    right.set_xlabel("estimated bloat (%)")
    right.set_title("btree indexes")
    return _svg(figure)


def cache_hits(report: dict[str, Any]) -> str | None:
    """Buffer cache hit rates: the database, and each table's heap and indexes."""
    tables = [t for t in report.get("tables") or [] if t.get("heap_hit_rate") is not None][:15]
    overall = [("database: all blocks", report.get("cache_hit_rate")), ("database: index blocks",
                                                                       report.get("index_hit_rate"))]
    rows = [(label, value) for label, value in overall if value is not None]
    rows += [(f"{t['table']}: heap", t["heap_hit_rate"]) for t in tables]
    rows += [(f"{t['table']}: indexes", t["idx_hit_rate"]) for t in tables if t.get("idx_hit_rate") is not None]
    if not rows:
        return None
    figure = _figure(len(rows), 10)
    axes = figure.subplots()
    axes.barh([label for label, _ in rows], [value for _, value in rows],
              color=[AFTER if value >= 99 else MUTED if value >= 90 else MARKED for _, value in rows])
    axes.invert_yaxis()
    axes.set_xlim(0, 100)
    axes.set_xlabel("blocks found in shared buffers (%)")
    axes.set_title("cache hit rates")
    return _svg(figure)


def charts(data: dict[str, Any]) -> dict[str, str | None]:
    """Every chart of the HTML report, from the advice's JSON. Labels are statement texts and
    names from the database: drawn as written, never read as mathtext (``$…\\…$`` would be)."""
    import matplotlib
    report = data.get("report") or {}
    unused = {f["index"] for f in data.get("unused_indexes") or []}
    redundant = {f["index"] for f in data.get("redundant_indexes") or []}
    with matplotlib.rc_context({"text.parse_math": False, "text.usetex": False}):
        return {
            "statements": statement_times(data.get("statements") or []),
            "effects": recommendation_effects(data.get("recommendations") or []),
            "indexes": index_usage(report.get("index_usage") or [], unused, redundant),
            "bloat": bloat(report.get("tables") or [], report.get("index_bloat") or []),
            "cache": cache_hits(report),
        }
