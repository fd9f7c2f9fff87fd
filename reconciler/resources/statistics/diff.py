"""Declared per-column statistics targets versus live ones: pure functions, no I/O.

When a table declares ``statistics``, its columns have exactly those targets: a listed column
whose target differs is set, an unlisted one with a target of its own goes back to the default
(``default_statistics_target``).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from reconciler.catalog.models import Catalog, LiveTable
from reconciler.resources.diffs import Diff
from reconciler.resources.document import Spec


@dataclass(frozen=True)
class StatisticsAction:
    """New statistics targets for some columns of ``table`` (``None``: back to the default)."""

    table: LiveTable
    targets: dict[str, int | None]
    before: dict[str, int | None]


def diff_statistics(spec: Spec, catalog: Catalog) -> Diff[StatisticsAction]:
    """One action per table whose declared statistics targets differ from the live ones."""
    out: Diff[StatisticsAction] = Diff()
    for key, table_spec in spec.tables.items():
        table = catalog.table(key)
        if table_spec.statistics is None or table is None:
            continue
        names = [c.name for c in table.columns]
        unknown = [c for c in table_spec.statistics if table.column(c) is None]
        for column in unknown:
            close = difflib.get_close_matches(column, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            out.problems.append((("tables", key, "statistics", column),
                                 f"column {column!r} does not exist in {key}{hint}"))
        if unknown:
            continue
        live = {c.name: c.statistics for c in table.columns}
        wanted: dict[str, int | None] = {name: None for name, target in live.items() if target is not None}
        wanted.update(table_spec.statistics)
        targets = {name: target for name, target in wanted.items() if live[name] != target}
        if targets:
            out.actions.append(StatisticsAction(table, dict(sorted(targets.items())),
                                                {name: live[name] for name in targets}))
    return out
