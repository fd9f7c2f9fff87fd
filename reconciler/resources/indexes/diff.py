"""Declared indexes versus live ones: pure functions, no I/O.

Indexes are matched by definition, then by name:

* same name, same definition, valid: nothing to do (a partitioned index missing on some
  partitions gets those partitions built and attached);
* same definition under another name: rename;
* same name, another definition: build the new one under a temporary name, drop the old one,
  rename (the table is never without an index); if the new one was already built by an
  interrupted apply, it is adopted instead of built again;
* same name, INVALID (a failed or killed concurrent build): drop it and build it again;
* live indexes nobody declared: reported; dropped only when the table prunes unmanaged indexes.
  Indexes that back constraints are never dropped or replaced; a declared index with the same
  definition as a constraint's index is built beside it, with a note (it is redundant);
* a declared index on a partition whose name is taken by the child of a partitioned index is
  not that child: when the partitioned index leaves the spec, the declared one is built under a
  temporary name and renamed once the partitioned index (and its children) are dropped; a
  partitioned index never adopts a declared standalone index as its child. Children of
  partitioned indexes are managed through their parent, never on their own.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

from reconciler.base.kinds import ChangeKind, Note
from reconciler.base.names import fit, fit_unique
from reconciler.catalog.models import Catalog, IndexDefinition, LiveIndex, LiveTable
from reconciler.resources.diffs import Diff
from reconciler.resources.document import Spec
from reconciler.resources.indexes.spec import IndexSpec

TEMP_PREFIX = "_pgrecon_"


@dataclass(frozen=True)
class DesiredIndex:
    """A declared index with its canonical definition and its place in the spec."""

    table_key: str
    position: int
    spec: IndexSpec
    definition: IndexDefinition

    @property
    def path(self) -> tuple[Any, ...]:
        return ("tables", self.table_key, "indexes", self.position)

    @property
    def name(self) -> str:
        return self.spec.name


def temp_index_name(schema: str, table: str, name: str) -> str:
    """The name a replacement is built under; the same for the same index on every run, so a
    run that was interrupted is recognised and resumed."""
    digest = hashlib.sha1(f"{schema}.{table}.{name}".encode()).hexdigest()[:8]
    return fit(f"{TEMP_PREFIX}{digest}_{name}")


def child_index_name(partition: str, index: str, salt: int = 0) -> str:
    """The name of a partitioned index's child on one partition."""
    return fit_unique(f"{partition}_{index}" if salt == 0 else f"{partition}_{index}_{salt}")


@dataclass(frozen=True)
class PartitionStep:
    """What one partition needs so that a partitioned index covers it.

    ``build``: build ``child`` concurrently and attach it; ``attach``: attach the existing
    ``child``; ``nested``: ``partition`` is itself partitioned: create ``child`` on it only
    (unless ``exists``), handle ``steps`` below it, then attach.
    """

    partition: LiveTable
    action: Literal["build", "attach", "nested"]
    child: str
    drop_first: str | None = None
    exists: bool = False
    steps: tuple[PartitionStep, ...] = ()


@dataclass(frozen=True)
class IndexAction:
    """One thing to do about one index."""

    action: Literal["create", "rename", "replace", "rebuild", "attach", "drop"]
    table: LiveTable
    name: str
    reason: str
    desired: DesiredIndex | None = None
    live: LiveIndex | None = None
    adopt: LiveIndex | None = None
    partitions: tuple[PartitionStep, ...] = ()
    leftover: bool = False
    build_as: str | None = None       # create: build under this name (renamed by a later action)
    rename_from: str | None = None    # rename: of an index built earlier in the same apply
    after: tuple[str, ...] = ()       # titles of changes that must be done first


@dataclass(frozen=True)
class ChildConflict:
    """A declared index whose name is held by ``child``, the child of a partitioned index."""

    desired: DesiredIndex
    table: LiveTable
    child: LiveIndex
    built: LiveIndex | None  # the declared index, already built under its temporary name


@dataclass
class IndexDiff(Diff[IndexAction]):
    conflicts: list[ChildConflict] = field(default_factory=list)


def _note(table: LiveTable, name: str, message: str) -> Note:
    return Note(kind=ChangeKind.INDEX, name=name, table=table.key, message=message)


def diff_indexes(spec: Spec, catalog: Catalog, desired: list[DesiredIndex]) -> IndexDiff:
    """Compare the declared indexes with the live ones, table by table."""
    out = IndexDiff()
    by_table: dict[str, list[DesiredIndex]] = {}
    for d in desired:
        by_table.setdefault(d.table_key, []).append(d)
    declared_oids = frozenset(
        ix.oid for key, ds in by_table.items() if (t := catalog.table(key)) is not None
        for ix in catalog.indexes_on(t.oid) if ix.name in {d.name for d in ds})
    for key, table_spec in spec.tables.items():
        table = catalog.table(key)
        if table is None:
            continue
        _diff_table(catalog, table, by_table.get(key, []), table_spec.prune_unmanaged_indexes, out, declared_oids,
                    frozenset(table_spec.drop_indexes))
    _resolve_child_conflicts(catalog, out)
    _keep_adopted_children(out)
    return out


def _root_index(catalog: Catalog, index: LiveIndex) -> LiveIndex | None:
    """The top partitioned index above ``index`` (``None`` when it was not read: its table is
    not in the spec)."""
    while index.parent_oid is not None:
        parent = catalog.indexes.get(index.parent_oid)
        if parent is None:
            return None
        index = parent
    return index


def _resolve_child_conflicts(catalog: Catalog, out: IndexDiff) -> None:
    """A declared index on a partition named like a child of a partitioned index: built under a
    temporary name and renamed after the partitioned index is dropped (when it leaves the spec),
    else refused (two indexes cannot have one name)."""
    leaving = {a.live.oid: a for a in out.actions if a.action in ("drop", "replace") and a.live is not None}
    for conflict in out.conflicts:
        d, table, child = conflict.desired, conflict.table, conflict.child
        root = _root_index(catalog, child)
        if root is None or root.oid not in leaving:
            owner = f"partitioned index {root.name}" if root is not None else "a partitioned index of a table " \
                                                                                "the spec does not name"
            out.problems.append((d.path, f"{d.name} is the name of the child of {owner} on {table.key}; "
                                         f"a declared index cannot have it while {owner} stays. Give the declared "
                                         f"index another name, or remove the partitioned index from the spec "
                                         f"(its table must prune unmanaged indexes)"))
            continue
        temp = temp_index_name(table.schema, table.name, d.name)
        reason = f"the name is held by the child of {root.name}, which leaves the spec"
        if conflict.built is None:
            out.actions.append(IndexAction("create", table, d.name, f"{reason}; built as {temp} first", d,
                                           build_as=temp))
        first = leaving[root.oid]
        out.actions.append(IndexAction("rename", table, d.name, f"{reason}; renamed once {root.name} is dropped",
                                       d, rename_from=temp,
                                       after=(f"index {first.action} {first.name} on {first.table.key}",)))


def _adopted(steps: tuple[PartitionStep, ...]) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for step in steps:
        if step.action == "attach":
            found.add((step.partition.schema, step.child))
        found |= _adopted(step.steps)
    return found


def _keep_adopted_children(out: IndexDiff) -> None:
    """An unmanaged index that a partitioned index adopts as its child in this plan is neither
    dropped nor reported as unmanaged: it becomes part of the partitioned index."""
    adopted: set[tuple[str, str]] = set()
    for action in out.actions:
        adopted |= _adopted(action.partitions)
    if not adopted:
        return
    out.actions = [a for a in out.actions if not (a.action == "drop" and (a.table.schema, a.name) in adopted)]
    out.notes = [n for n in out.notes if ((n.table or "").partition(".")[0], n.name) not in adopted]


def _usable(index: LiveIndex) -> bool:
    return index.valid or index.partitioned


class _TableDiff:
    """Declared versus live indexes of one table: each declared index is in place, to attach, to
    rename, create, replace or rebuild; then every live index nobody claimed is reported or
    dropped. Actions and notes go to ``out`` in the order found."""

    def __init__(self, catalog: Catalog, table: LiveTable, declared: list[DesiredIndex], prune: bool,
                 out: IndexDiff, declared_oids: frozenset[int]) -> None:
        self.catalog, self.table, self.declared, self.prune, self.out = catalog, table, declared, prune, out
        self.declared_oids = declared_oids
        self.drop: frozenset[str] = frozenset()    # names the spec lists in drop_indexes
        self.live = catalog.indexes_on(table.oid)
        self.by_name = {i.name: i for i in self.live}
        self.declared_names = {d.name for d in declared}
        self.claimed: set[int] = set()

    def run(self) -> None:
        for d in self.declared:
            self._declared(d)
        for index in self.live:
            self._unclaimed(index)

    def _add(self, action: IndexAction) -> None:
        self.out.actions.append(action)

    def _steps(self, definition: IndexDefinition, parent: LiveIndex | None,
               name: str | None = None) -> tuple[PartitionStep, ...]:
        return partition_steps(self.catalog, self.table, definition, parent, name, self.declared_oids)

    def _declared(self, d: DesiredIndex) -> None:
        current = self.by_name.get(d.name)
        if current is not None and current.parent_oid is not None:
            self._child_conflict(d, current)
        elif current is not None and current.definition == d.definition and _usable(current):
            self.claimed.add(current.oid)
            steps = self._steps(d.definition, current) if current.partitioned else ()
            if steps:
                self._add(IndexAction("attach", self.table, d.name, "partitions without this index", d, current,
                                      partitions=steps))
        elif current is not None and current.backs_constraint:
            self.claimed.add(current.oid)
            self.out.problems.append((d.path, f"{d.name} exists with another definition and backs constraint "
                                              f"{', '.join(current.constraints)}; pgrecon never replaces such an "
                                              f"index. Give the declared index another name, or change the "
                                              f"constraint in your migrations"))
        else:
            self._new_or_changed(d, current)

    def _child_conflict(self, d: DesiredIndex, current: LiveIndex) -> None:
        """The declared name is held by a child of a partitioned index (see :class:`ChildConflict`)."""
        temp = temp_index_name(self.table.schema, self.table.name, d.name)
        built = self.by_name.get(temp)
        if built is not None and not (built.definition == d.definition and built.valid):
            built = None
        if built is not None:
            self.claimed.add(built.oid)
        self.claimed.add(current.oid)
        self.out.conflicts.append(ChildConflict(d, self.table, current, built))

    def _ready(self, d: DesiredIndex) -> LiveIndex | None:
        """A live index nobody declared, with the declared definition: renamed, or adopted."""
        return next((m for m in self.live if m.oid not in self.claimed and m.name not in self.declared_names
                     and m.parent_oid is None and m.definition == d.definition and _usable(m)
                     and not m.backs_constraint), None)

    def _new_or_changed(self, d: DesiredIndex, current: LiveIndex | None) -> None:
        table = self.table
        ready = self._ready(d)
        steps: tuple[PartitionStep, ...] = ()
        if ready is not None:
            self.claimed.add(ready.oid)
            steps = self._steps(d.definition, ready) if ready.partitioned else ()
        if current is None:
            self._missing(d, ready, steps)
            return
        self.claimed.add(current.oid)
        if ready is not None:
            self._add(IndexAction("replace", table, d.name,
                                  f"definition differs ({'; '.join(current.definition.differences(d.definition))}); "
                                  f"{ready.name} already has the declared definition", d, current, adopt=ready,
                                  partitions=steps))
        elif not current.valid and not current.partitioned:
            self._add(IndexAction("rebuild", table, d.name,
                                  "INVALID (a concurrent build failed or was interrupted)", d, current))
        else:
            temp = temp_index_name(table.schema, table.name, d.name)
            steps = self._steps(d.definition, None, temp) if table.partitioned else ()
            self._add(IndexAction("replace", table, d.name,
                                  f"definition differs: {'; '.join(current.definition.differences(d.definition))}",
                                  d, current, partitions=steps))

    def _missing(self, d: DesiredIndex, ready: LiveIndex | None, steps: tuple[PartitionStep, ...]) -> None:
        table = self.table
        if ready is not None:
            self._add(IndexAction("rename", table, d.name, f"same definition as {ready.name}", d, ready,
                                  partitions=steps))
            return
        steps = self._steps(d.definition, None, d.name) if table.partitioned else ()
        self._add(IndexAction("create", table, d.name, "missing", d, partitions=steps))
        twin = next((m for m in self.live if m.definition == d.definition and m.backs_constraint and m.valid), None)
        if twin is not None:
            self.out.notes.append(_note(table, d.name, f"redundant: same definition as {twin.name}, which backs "
                                                       f"constraint {', '.join(twin.constraints)} (built as declared)"))

    def _unclaimed(self, index: LiveIndex) -> None:
        table = self.table
        if index.oid in self.claimed or index.parent_oid is not None:
            return  # children of partitioned indexes come and go with their parent
        if index.name.startswith(TEMP_PREFIX):
            self._add(IndexAction("drop", table, index.name, "left behind by an interrupted apply", live=index,
                                  leftover=True))
        elif index.backs_constraint:
            if self.prune:
                self.out.notes.append(_note(table, index.name,
                                            f"kept: backs constraint {', '.join(index.constraints)}"))
        elif index.name in self.drop:
            self._add(IndexAction("drop", table, index.name, "listed in drop_indexes", live=index))
        elif self.prune:
            self._add(IndexAction("drop", table, index.name,
                                  "not in the spec" + ("" if index.valid else " (INVALID)")
                                  + " and the table prunes unmanaged indexes", live=index))
        else:
            self.out.notes.append(_note(table, index.name, "unmanaged: not in the spec"
                                        + ("" if index.valid else "; INVALID") + " (kept)"))


def _diff_table(catalog: Catalog, table: LiveTable, declared: list[DesiredIndex], prune: bool,
                out: IndexDiff, declared_oids: frozenset[int] = frozenset(),
                drop: frozenset[str] = frozenset()) -> None:
    differ = _TableDiff(catalog, table, declared, prune, out, declared_oids)
    differ.drop = drop
    differ.run()


def partition_steps(catalog: Catalog, table: LiveTable, definition: IndexDefinition,
                    parent: LiveIndex | None, parent_name: str | None = None,
                    declared: frozenset[int] = frozenset()) -> tuple[PartitionStep, ...]:
    """What each partition of ``table`` needs for the partitioned index ``parent`` (existing) or
    ``parent_name`` (about to be created) to cover it. An index of the same definition already on
    a partition is attached as the child, unless it is ``declared`` (oids) as an index of its own."""
    name = parent.name if parent is not None else parent_name
    assert name is not None, "a partitioned index to cover: existing (parent) or to be created (parent_name)"
    attached = {c.table_oid: c for c in catalog.children_of(parent.oid)} if parent is not None else {}
    steps = []
    for part in catalog.partitions_of(table.oid):
        child = attached.get(part.oid)
        if child is not None:
            if part.partitioned and not child.valid:
                below = partition_steps(catalog, part, definition, child, declared=declared)
                if below:
                    steps.append(PartitionStep(part, "nested", child.name, exists=True, steps=below))
            continue
        on_part = catalog.indexes_on(part.oid)
        candidate = next((i for i in on_part if i.parent_oid is None and i.definition == definition
                          and i.valid and i.partitioned == part.partitioned and i.oid not in declared), None)
        if candidate is not None and not part.partitioned:
            steps.append(PartitionStep(part, "attach", candidate.name))
            continue
        child_name, drop_first = _child_name(on_part, part.name, name)
        if part.partitioned:
            steps.append(PartitionStep(part, "nested", child_name, drop_first=drop_first,
                                       steps=partition_steps(catalog, part, definition, None, child_name, declared)))
        else:
            steps.append(PartitionStep(part, "build", child_name, drop_first=drop_first))
    return tuple(steps)


def _child_name(on_part: list[LiveIndex], partition: str, parent_name: str) -> tuple[str, str | None]:
    """A free child name; an INVALID unattached index already under it is ours to drop first."""
    existing = {i.name: i for i in on_part}
    for salt in range(100):
        name = child_index_name(partition, parent_name, salt)
        found = existing.get(name)
        if found is None:
            return name, None
        if not found.valid and found.parent_oid is None and not found.backs_constraint:
            return name, name
    raise RuntimeError(f"no free index name for {partition}")
