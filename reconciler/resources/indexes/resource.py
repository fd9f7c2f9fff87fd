"""Indexes: compared by definition (see :mod:`reconciler.resources.indexes.equivalence` and
:mod:`reconciler.resources.indexes.canonical`), built concurrently, replaced without a moment without the
index, attached partition by partition on partitioned tables.

Order of the changes: leftovers of interrupted applies are cleared, then renames, creates,
rebuilds, replaces and attaches, and drops of unmanaged indexes, so a table never has fewer
indexes in the middle of an apply than at either end of it; last, indexes built under a
temporary name because a dropped index held theirs are renamed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from reconciler.base import sqltext
from reconciler.base.kinds import Action, ChangeKind, Note
from reconciler.catalog.models import Catalog, IndexKey, LiveIndex, LiveTable
from reconciler.plan.locks import ACCESS_EXCLUSIVE, SHARE, SHARE_UPDATE_EXCLUSIVE
from reconciler.plan.models import Change, Hazard, Statement
from reconciler.render import quote_ident, render_statement
from reconciler.resources.base import InspectContext, PlanContext, ResourceType
from reconciler.resources.diffs import SpecProblem
from reconciler.resources.document import Spec
from reconciler.resources.indexes.canonical_cache import remember_canonical_forms
from reconciler.resources.indexes.desired import resolve_desired
from reconciler.resources.indexes.diff import (
    TEMP_PREFIX,
    DesiredIndex,
    IndexAction,
    IndexDiff,
    PartitionStep,
    diff_indexes,
    temp_index_name,
)
from reconciler.resources.indexes.equivalence import referenced_columns
from reconciler.resources.indexes.spec import IndexSpec

_INDEX_ORDER = {"rename": 1, "create": 2, "rebuild": 3, "replace": 4, "attach": 5, "drop": 6}


@dataclass(frozen=True)
class IndexState:
    """The live indexes (in the catalog) and the declared ones in their canonical form."""

    catalog: Catalog
    desired: list[DesiredIndex]
    problems: list[SpecProblem]
    notes: tuple[str, ...] = ()


class Indexes(ResourceType[IndexState, IndexDiff]):
    kind: ClassVar[ChangeKind] = ChangeKind.INDEX
    section: ClassVar[str] = "indexes"
    phase: ClassVar[int] = 40

    def declared(self, spec: Spec) -> bool:
        return bool(spec.tables)  # a named table's unmanaged indexes are reported even with none declared

    def read(self, ctx: PlanContext) -> IndexState:
        resolution = resolve_desired(ctx.conn, ctx.spec, ctx.catalog)
        if resolution.computed and not resolution.problems and (ctx.remember_forms or resolution.cache_exists):
            remember_canonical_forms(ctx.conn, resolution.computed, create=ctx.remember_forms,
                                     schema_owner=ctx.spec.target.schema_owner)
        return IndexState(ctx.catalog, resolution.desired, resolution.problems, tuple(resolution.notes))

    def diff(self, ctx: PlanContext, live: IndexState) -> IndexDiff:
        if live.problems:
            return IndexDiff(problems=list(live.problems))
        diff = diff_indexes(ctx.spec, live.catalog, live.desired)
        diff.notes += [Note(kind=ChangeKind.INDEX, name="", message=message) for message in live.notes]
        return diff

    def changes(self, diff: IndexDiff) -> list[tuple[int, Change]]:
        return [(self.phase, change) for change in index_changes(diff.actions)]

    def export(self, ctx: InspectContext) -> dict[str, Any]:
        tables: dict[str, Any] = {}
        for table in sorted(ctx.catalog.tables.values(), key=lambda t: t.key):
            declared = [export_index(ix, table) for ix in ctx.catalog.indexes_on(table.oid) if exportable(ix)]
            if declared:
                tables[table.key] = {"indexes": declared}
        return {"tables": tables} if tables else {}


def exportable(index: LiveIndex) -> bool:
    """Indexes a spec declares: not a constraint's (migrations own those), not a child of a
    partitioned index (declared on the parent), valid (a partitioned index is valid when every
    partition has its child), and not a leftover of an interrupted apply. The others stay
    unmanaged: plan reports them and leaves them alone."""
    return (not index.backs_constraint and index.parent_oid is None and index.valid
            and not index.name.startswith(TEMP_PREFIX))


def _key_text(key: IndexKey, table: LiveTable) -> str | dict[str, Any]:
    """One key in the readable string form when that parses back to the same key, else the
    explicit object form."""
    collation = key.collation
    if key.expression is not None and collation == "default":
        referenced = referenced_columns(key.expression)
        if all((c := table.column(name)) is not None and c.collation in (None, "default") for name in referenced):
            collation = None  # the expression's own collation: implied
    fields: dict[str, Any] = {"column": key.column} if key.column is not None else {"expression": key.expression}
    if collation:
        fields["collation"] = collation
    if key.opclass:
        fields["opclass"] = key.opclass
    if key.opclass_params:
        fields["opclass_params"] = dict(key.opclass_params)
    if key.descending:
        fields["order"] = "desc"
    if key.nulls_first != key.descending:
        fields["nulls"] = "first" if key.nulls_first else "last"
    if key.column is not None:
        text = quote_ident(key.column)
    else:
        expression = key.expression or ""
        text = expression if _is_call(expression) else f"({expression})"
    if collation:
        text += f" COLLATE {quote_ident(collation)}"
    if key.opclass:
        text += " " + quote_ident(key.opclass.split("."))
        if key.opclass_params:
            text += "(" + ", ".join(f"{k}={v}" for k, v in key.opclass_params) + ")"
    if key.descending:
        text += " DESC"
    if "nulls" in fields:
        text += f" NULLS {fields['nulls'].upper()}"
    try:
        parsed = sqltext.index_element(text)
    except sqltext.SqlTextError:
        return fields
    same = (parsed.column == key.column and parsed.expression == key.expression
            and (parsed.collation or (None,))[0] == collation and ".".join(parsed.opclass or ()) == (key.opclass or "")
            and dict(parsed.opclass_params) == dict(key.opclass_params)
            and bool(parsed.descending) == key.descending
            and (parsed.nulls_first if parsed.nulls_first is not None else bool(parsed.descending)) == key.nulls_first)
    return text if same else fields


def _is_call(expression: str) -> bool:
    """A function call the string form takes without parentheses (``lower(name)``)."""
    try:
        return sqltext.index_element(expression).expression == expression
    except sqltext.SqlTextError:
        return False


def export_index(index: LiveIndex, table: LiveTable) -> dict[str, Any]:
    """A live index as a spec entry (``{name, columns, …}``), defaults left out."""
    d = index.definition
    out: dict[str, Any] = {"name": index.name, "columns": [_key_text(k, table) for k in d.keys]}
    if d.method != "btree":
        out["using"] = d.method
    if d.unique:
        out["unique"] = True
    if d.nulls_not_distinct:
        out["nulls_not_distinct"] = True
    if d.include:
        out["include"] = list(d.include)
    if d.predicate:
        out["where"] = d.predicate
    if index.options:
        out["with"] = dict(option.partition("=")[::2] for option in index.options)
    return out


def index_changes(actions: list[IndexAction]) -> list[Change]:
    """One change per index action, leftovers first and prunes last."""
    def order(a: IndexAction) -> tuple[Any, ...]:
        rank = 0 if a.leftover else (len(_INDEX_ORDER) + 1 if a.rename_from else _INDEX_ORDER[a.action])
        return (rank, a.table.key, a.name)
    return [index_change(a) for a in sorted(actions, key=order)]


def _build(index: IndexSpec, name: tuple[str, str], table: tuple[str, str]) -> Statement:
    return Statement(sql=render_statement("indexes/create_index", index=index, name=name[1], table=table,
                                          concurrently=True, only=False),
                     transactional=False, lock=SHARE_UPDATE_EXCLUSIVE, timeout="build", builds=name)


def _create_only(index: IndexSpec, name: str, table: tuple[str, str]) -> Statement:
    return Statement(sql=render_statement("indexes/create_index", index=index, name=name, table=table,
                                          concurrently=False, only=True), lock=SHARE)


def _drop(schema: str, name: str, partitioned: bool, if_exists: bool = False) -> Statement:
    if partitioned:  # DROP INDEX CONCURRENTLY does not work on partitioned indexes
        return Statement(sql=render_statement("indexes/drop_index", index=(schema, name), concurrently=False,
                                              if_exists=if_exists), lock=ACCESS_EXCLUSIVE)
    return Statement(sql=render_statement("indexes/drop_index", index=(schema, name), concurrently=True,
                                          if_exists=if_exists), transactional=False, lock=SHARE_UPDATE_EXCLUSIVE)


def _rename(schema: str, old: str, new: str) -> Statement:
    return Statement(sql=render_statement("indexes/rename_index", index=(schema, old), new_name=new),
                     lock=SHARE_UPDATE_EXCLUSIVE)


def _attach(parent: tuple[str, str], child: tuple[str, str]) -> Statement:
    return Statement(sql=render_statement("indexes/attach_index", parent=parent, child=child),
                     lock=SHARE_UPDATE_EXCLUSIVE)


def partition_statements(index: IndexSpec, parent: tuple[str, str],
                         steps: tuple[PartitionStep, ...]) -> list[Statement]:
    """Statements that give every partition in ``steps`` a child of the partitioned index ``parent``."""
    out: list[Statement] = []
    for step in steps:
        part = step.partition
        child = (part.schema, step.child)
        if step.drop_first:
            out.append(_drop(part.schema, step.drop_first, part.partitioned, if_exists=True))
        if step.action == "build":
            out.append(_build(index, child, (part.schema, part.name)))
            out.append(_attach(parent, child))
        elif step.action == "attach":
            out.append(_attach(parent, child))
        else:
            if not step.exists:
                out.append(_create_only(index, step.child, (part.schema, part.name)))
            out.extend(partition_statements(index, child, step.steps))
            if not step.exists:
                out.append(_attach(parent, child))
    return out


def _new_index(index: IndexSpec, schema: str, name: str, action: IndexAction) -> list[Statement]:
    """Statements that build index ``name`` with all its partitions."""
    table = (action.table.schema, action.table.name)
    if not action.table.partitioned:
        return [_build(index, (schema, name), table)]
    return [_create_only(index, name, table), *partition_statements(index, (schema, name), action.partitions)]


def index_change(action: IndexAction) -> Change:
    """The statements and hazards of one index action (every action but a drop has its declared
    index; every action on an existing index has it as ``live``)."""
    table = action.table
    schema = table.schema
    spec: Any = action.desired.spec if action.desired else None
    live: Any = action.live
    hazards: list[Hazard] = []
    statements: list[Statement] = []
    details: dict[str, Any] = {}
    if action.desired is not None:
        details["definition"] = render_statement("indexes/create_index", index=spec, name=spec.name,
                                                 table=(schema, table.name), concurrently=False, only=False)
    if action.action == "create":
        statements = _new_index(spec, schema, action.build_as or action.name, action)
        if action.build_as:
            details["built_as"] = action.build_as
    elif action.action == "rename":
        old = action.rename_from or live.name
        statements = [*partition_statements(spec, (schema, old), action.partitions), _rename(schema, old, action.name)]
        details["from"] = old
    elif action.action == "attach":
        statements = partition_statements(spec, (schema, action.name), action.partitions)
    elif action.action == "rebuild":
        statements = [_drop(schema, live.name, live.partitioned, if_exists=True),
                      *_new_index(spec, schema, action.name, action)]
    elif action.action == "replace":
        if action.adopt is not None:
            new_name = action.adopt.name
            statements = list(partition_statements(spec, (schema, new_name), action.partitions))
        else:
            new_name = temp_index_name(schema, table.name, action.name)
            statements = _new_index(spec, schema, new_name, action)
        statements += [_drop(schema, live.name, live.partitioned),
                       _rename(schema, new_name, action.name)]
        if live.valid:
            hazards.append(Hazard.INDEX_REBUILD)
    elif action.action == "drop":
        statements = [_drop(schema, action.name, live.partitioned, if_exists=action.leftover)]
        if not action.leftover:
            hazards.append(Hazard.INDEX_DROP)
    else:  # pragma: no cover - the diff produces only the actions above
        raise ValueError(f"unknown index action {action.action}")
    if any(s.lock == ACCESS_EXCLUSIVE for s in statements):
        hazards.append(Hazard.TABLE_LOCK)
    if action.partitions:
        details["partitions"] = _count_steps(action.partitions)
    return Change(kind=ChangeKind.INDEX, action=Action(action.action), name=action.name, table=table.key,
                  reason=action.reason, statements=tuple(statements), hazards=tuple(hazards), details=details,
                  after=action.after)


def _count_steps(steps: tuple[PartitionStep, ...]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for step in steps:
        counts[step.action] = counts.get(step.action, 0) + 1
        for key, value in _count_steps(step.steps).items():
            counts[key] = counts.get(key, 0) + value
    return counts


