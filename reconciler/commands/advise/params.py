"""Representative parameter values for a statement, from the column statistics: pure functions.

A normalised statement (``WHERE status = $1``) has no values; its generic plan assumes every
value is average. To see what the planner does for the values the data really holds, each
parameter compared with a column gets values from that column's statistics: its most common
values weighted by their frequencies, and histogram bounds (quantiles) for the rest. A range
bound gets quantiles that select about 1%, 10% and 50% of the rows; ``LIKE`` a short and a long
prefix of typical values; ``LIMIT`` the rows the statement returned per call. The values of different
parameters are combined into a few weighted sets (the weights sum to 1).

>>> from reconciler.commands.advise.shape import analyse
>>> shape = analyse("SELECT * FROM t WHERE status = $1", {"t": ("public", "t")})
>>> stats = {("public", "t", "status"): {"mcv": ["done", "new"], "mcf": [0.85, 0.1],
...                                      "histogram": ["a", "m", "z"], "null_frac": 0.0}}
>>> [(s.values, round(s.weight, 3)) for s in parameter_sets(shape, stats, rows_per_call=1)]
[({1: 'done'}, 0.85), ({1: 'new'}, 0.1), ({1: 'a'}, 0.017), ({1: 'm'}, 0.017), ({1: 'z'}, 0.017)]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reconciler.commands.advise.shape import Predicate, Shape

MAX_MCV = 4
QUANTILES = (0.1, 0.5, 0.9)
RANGE_FRACTIONS = (0.01, 0.1, 0.5)
MAX_SETS = 8


@dataclass(frozen=True)
class ParameterSet:
    values: dict[int, str | None]
    weight: float


Choices = list[tuple[str | None, float]]


def _quantile(bounds: list[str], q: float) -> str:
    return bounds[min(len(bounds) - 1, max(0, round(q * (len(bounds) - 1))))]


def value_choices(stats: dict[str, Any], rows: float = 0.0, observed: float | None = None) -> Choices:
    """Values of one column with the share of rows each stands for: the most common values, then
    histogram quantiles sharing what the most common values leave. With ``observed`` (the share
    of the table one call returned, when that is the share its value matched), only values
    whose own share is within 10x of it are kept: a statement that returns 85% of the table
    each call asks for the common value, one that returns a handful asks for rare ones."""
    mcv = list(stats.get("mcv") or [])
    mcf = [float(f) for f in stats.get("mcf") or []]
    hist = list(stats.get("histogram") or [])
    out: list[tuple[str | None, float, float]] = [(v, f, f) for v, f in zip(mcv[:MAX_MCV], mcf[:MAX_MCV],
                                                                             strict=False)]
    rest = max(0.0, 1.0 - sum(mcf[:MAX_MCV]) - float(stats.get("null_frac") or 0))
    distinct = float(stats.get("n_distinct") or 0)
    distinct = -distinct * rows if distinct < 0 else distinct
    each = (1.0 - sum(mcf) - float(stats.get("null_frac") or 0)) / max(1.0, distinct - len(mcv))
    if hist:
        picks = list(dict.fromkeys(_quantile(hist, q) for q in QUANTILES))
        out += [(v, rest / len(picks), each) for v in picks]
    elif mcv[MAX_MCV:]:
        out.append((mcv[MAX_MCV], rest, mcf[MAX_MCV]))
    out = [(v, w, share) for v, w, share in out if w > 0]
    if observed is not None and observed > 0:
        near = [(v, w, share) for v, w, share in out if observed / 10 <= share <= observed * 10]
        out = near or out
    return [(v, w) for v, w, _ in out]


def _sorted_values(stats: dict[str, Any]) -> list[str]:
    """Bounds to take range quantiles from (the histogram, else the most common values)."""
    return list(stats.get("histogram") or []) or sorted(stats.get("mcv") or [])


def _choices_for(p: Predicate, stats: dict[str, Any] | None, rows: float, observed: float | None
                 ) -> list[tuple[dict[int, str | None], float]] | None:
    if stats is None:
        return None
    if p.kind in ("eq", "contains"):
        values = value_choices(stats, rows, observed if p.kind == "eq" else None)
        if not values:
            return None
        if p.lowered:
            values = [(v.lower() if v is not None else None, w) for v, w in values]
        return [(dict.fromkeys(p.params, v), w) for v, w in values]
    if p.kind == "like":
        values = value_choices(stats)
        if not values:
            return None
        patterns: list[tuple[dict[int, str | None], float]] = []
        for v, w in values:
            if v is not None:  # a short prefix and a long one (half the value), as searches go
                patterns += [({p.params[0]: _escape(v[:length]) + "%"}, w / 2)
                             for length in (3, max(3, len(v) // 2))]
        return patterns
    if p.kind == "range":
        bounds = _sorted_values(stats)
        if not bounds:
            return None
        share = 1 / len(RANGE_FRACTIONS)
        out: list[tuple[dict[int, str | None], float]] = []
        for fraction in RANGE_FRACTIONS:
            if p.side == "between" and len(p.params) == 2:
                low = 0.5 - fraction / 2
                out.append(({p.params[0]: _quantile(bounds, low), p.params[1]: _quantile(bounds, low + fraction)},
                            share))
            elif p.side == "lo":
                out.append(({p.params[0]: _quantile(bounds, 1 - fraction)}, share))
            elif p.side == "hi":
                out.append(({p.params[0]: _quantile(bounds, fraction)}, share))
            else:
                return None
        return out
    return None


def _escape(text: str) -> str:
    """``text`` as a literal LIKE prefix."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _wrote(p: Predicate, wrote: list[tuple[str | None, float]]) -> list[tuple[dict[int, str | None], float]]:
    out: list[tuple[dict[int, str | None], float]] = []
    for value, weight in wrote:
        values: dict[int, str | None] = dict.fromkeys(p.params, value)
        out.append((values, weight))
    return out


def parameter_sets(shape: Shape, stats: dict[tuple[str, str, str], dict[str, Any]], rows_per_call: float,
                   table_rows: dict[tuple[str, str], float] | None = None,
                   asked: dict[tuple[tuple[str, str], str], list[tuple[str | None, float]]] | None = None
                   ) -> list[ParameterSet] | None:
    """Weighted value sets for every parameter of the statement, or None when some parameter in
    a condition cannot be given a representative value (then only the generic plan is used).
    Parameters outside conditions (SET, VALUES, the select list) are NULL. When the statement
    returns the rows it matches and filters by one equality, its rows per call narrow that
    column's values to those matching as many rows (``table_rows`` gives the tables' sizes)."""
    if not shape.params:
        return []
    if shape.unknown_params:
        return None
    with_params = [p for p in shape.predicates if p.params]
    observed = None
    if shape.rows_match and len([p for p in with_params if p.kind in ("eq", "range", "like")]) == 1 \
            and with_params[0].kind == "eq" and table_rows:
        size = table_rows.get(with_params[0].table, 0.0)
        observed = rows_per_call / size if size else None
    dimensions: list[list[tuple[dict[int, str | None], float]]] = []
    for p in with_params:
        rows = (table_rows or {}).get(p.table, 0.0)
        wrote = (asked or {}).get((p.table, p.column)) if p.kind == "eq" else None
        # the constants the application wrote (pg_qualstats), as it wrote them; else the statistics'
        choices = _wrote(p, wrote) if wrote else _choices_for(p, stats.get((*p.table, p.column)), rows, observed)
        if choices is None:
            return None
        dimensions.append(choices)
    fixed: dict[int, str | None] = dict.fromkeys(shape.params)
    if shape.limit_param is not None:
        fixed[shape.limit_param] = str(max(1, round(rows_per_call)))
    if shape.offset_param is not None:
        fixed[shape.offset_param] = "0"
    if not dimensions:
        return [ParameterSet(fixed, 1.0)]
    count = min(MAX_SETS, max(len(d) for d in dimensions))
    sets = []
    for i in range(count):
        values = dict(fixed)
        weight = 1.0
        for d in dimensions:
            chosen, w = d[i % len(d)]
            values.update(chosen)
            weight *= w
        sets.append((values, weight))
    total = sum(w for _, w in sets) or 1.0
    return [ParameterSet(v, w / total) for v, w in sets]
