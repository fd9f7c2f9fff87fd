"""Table storage parameters (``autovacuum_*``, ``fillfactor``, ``toast.*``): when a table (or a
materialized view) declares ``storage``, it has exactly those; ``ALTER TABLE … SET (…), RESET (…)``
under SHARE UPDATE EXCLUSIVE, which blocks neither reads nor writes."""

from __future__ import annotations

from typing import Any, ClassVar

from reconciler.base.kinds import Action, ChangeKind
from reconciler.catalog.models import Catalog
from reconciler.plan.locks import SHARE_UPDATE_EXCLUSIVE
from reconciler.plan.models import Change, Statement
from reconciler.render import render_statement
from reconciler.resources.base import Diff, InspectContext, PlanContext, ResourceType
from reconciler.resources.document import Spec
from reconciler.resources.storage.diff import TableStorageAction, diff_tables


class TableStorage(ResourceType[Catalog, Diff[TableStorageAction]]):
    kind: ClassVar[ChangeKind] = ChangeKind.TABLE_SETTING
    section: ClassVar[str] = "storage"
    phase: ClassVar[int] = 30

    def declared(self, spec: Spec) -> bool:
        return any(t.storage is not None for t in spec.tables.values())

    def read(self, ctx: PlanContext) -> Catalog:
        return ctx.catalog  # storage parameters come with the tables

    def diff(self, ctx: PlanContext, live: Catalog) -> Diff[TableStorageAction]:
        return diff_tables(ctx.spec, live)

    def changes(self, diff: Diff[TableStorageAction]) -> list[tuple[int, Change]]:
        return [(self.phase, table_storage_change(a)) for a in diff.actions]

    def export(self, ctx: InspectContext) -> dict[str, Any]:
        tables = {t.key: {"storage": dict(t.storage)} for t in ctx.catalog.named_tables()
                  if t.storage and not t.partitioned}
        return {"tables": tables} if tables else {}


def table_storage_change(action: TableStorageAction) -> Change:
    """ALTER TABLE … SET (…), RESET (…) for one table's storage parameters."""
    table = action.table
    sql = render_statement("storage/alter_table_storage", table=(table.schema, table.name), set_=action.set,
                           reset=action.reset)
    parts = [f"{k} {action.before.get(k, '(default)')} -> {v}" for k, v in sorted(action.set.items())]
    parts += [f"{k} {action.before[k]} -> (default)" for k in action.reset]
    return Change(kind=ChangeKind.TABLE_SETTING, action=Action.SET if action.set else Action.RESET, name=table.key,
                  table=table.key, reason="; ".join(parts),
                  statements=(Statement(sql=sql, lock=SHARE_UPDATE_EXCLUSIVE),),
                  details={"set": action.set, "reset": action.reset})
