"""Per-column statistics targets (``ALTER TABLE … ALTER COLUMN … SET STATISTICS n``): how many
most-common values and histogram buckets ANALYZE keeps for a column. A skewed column (one value
in most rows) needs a higher target for the planner to see the rare values; a column no query
filters on can have 0. The change takes SHARE UPDATE EXCLUSIVE (reads and writes go on) and is
used from the next ANALYZE."""

from __future__ import annotations

from typing import Any, ClassVar

from reconciler.base.kinds import Action, ChangeKind
from reconciler.catalog.models import Catalog
from reconciler.plan.locks import SHARE_UPDATE_EXCLUSIVE
from reconciler.plan.models import Change, Statement
from reconciler.render import render_statement
from reconciler.resources.base import Diff, InspectContext, PlanContext, ResourceType
from reconciler.resources.document import Spec
from reconciler.resources.statistics.diff import StatisticsAction, diff_statistics


class ColumnStatistics(ResourceType[Catalog, Diff[StatisticsAction]]):
    kind: ClassVar[ChangeKind] = ChangeKind.STATISTICS
    section: ClassVar[str] = "statistics"
    phase: ClassVar[int] = 35

    def declared(self, spec: Spec) -> bool:
        return any(t.statistics is not None for t in spec.tables.values())

    def read(self, ctx: PlanContext) -> Catalog:
        return ctx.catalog  # targets come with the tables' columns

    def diff(self, ctx: PlanContext, live: Catalog) -> Diff[StatisticsAction]:
        return diff_statistics(ctx.spec, live)

    def changes(self, diff: Diff[StatisticsAction]) -> list[tuple[int, Change]]:
        return [(self.phase, statistics_change(a)) for a in diff.actions]

    def export(self, ctx: InspectContext) -> dict[str, Any]:
        tables = {}
        for table in ctx.catalog.named_tables():
            targets = {c.name: c.statistics for c in table.columns if c.statistics is not None}
            if targets:
                tables[table.key] = {"statistics": targets}
        return {"tables": tables} if tables else {}


def _shown(target: int | None) -> str:
    return "default" if target is None else str(target)


def statistics_change(action: StatisticsAction) -> Change:
    """One ALTER TABLE setting the statistics targets of some columns of one table."""
    table = action.table
    sql = render_statement("statistics/alter_column_statistics", table=(table.schema, table.name),
                           targets=action.targets)
    reason = "; ".join(f"{column} {_shown(action.before[column])} -> {_shown(target)}"
                       for column, target in action.targets.items()) + " (used from the next ANALYZE)"
    return Change(kind=ChangeKind.STATISTICS, action=Action.SET, name=table.key, table=table.key, reason=reason,
                  statements=(Statement(sql=sql, lock=SHARE_UPDATE_EXCLUSIVE),),
                  details={"targets": action.targets, "before": action.before})
