"""Declared table storage parameters versus live ones: pure functions, no I/O.

When a table declares ``storage``, its storage parameters are exactly those: differing or missing
ones are set, others are reset.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.catalog.models import Catalog, LiveTable, normalize_option_value
from reconciler.resources.diffs import Diff
from reconciler.resources.document import Spec


@dataclass(frozen=True)
class TableStorageAction:
    table: LiveTable
    set: dict[str, str]                      # parameter -> value as written
    reset: list[str]
    before: dict[str, str]


def diff_tables(spec: Spec, catalog: Catalog) -> Diff[TableStorageAction]:
    """Storage parameters to set and reset, per table that declares ``storage``."""
    out: Diff[TableStorageAction] = Diff()
    for key, table_spec in spec.tables.items():
        if table_spec.storage is None:
            continue
        table = catalog.table(key)
        if table is None:
            continue
        if table.partitioned and table_spec.storage:
            out.problems.append((("tables", key, "storage"), f"{key} is partitioned: PostgreSQL keeps storage "
                                                              f"parameters on its partitions, not on the parent"))
            continue
        toast = [k for k in table_spec.storage if k.startswith("toast.")]
        if toast and not table.has_toast:
            out.problems.append((("tables", key, "storage", toast[0]),
                                 f"{key} has no TOAST table (no column that can be toasted): toast.* "
                                 f"parameters would be ignored"))
            continue
        live = dict(table.storage)
        wanted = dict(table_spec.storage.items())
        to_set = {k: v for k, v in wanted.items() if live.get(k) != normalize_option_value(v)}
        to_reset = sorted(k for k in live if k not in wanted)
        if to_set or to_reset:
            out.actions.append(TableStorageAction(table, to_set, to_reset, live))
    return out
