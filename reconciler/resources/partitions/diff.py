"""Declared time partitioning versus live partitions: pure functions, no I/O.

From ``premake_back`` buckets behind the one holding "now" through ``premake`` buckets ahead,
every bucket has a partition; gaps back to the oldest partition (or ``start``) are filled. Every
partition whose whole range is older than ``now - retention`` is detached or dropped — hand-made
ones too — never the last one. A partition created outside pgrecon is kept whatever its name:
exactly a bucket's bounds, it is that bucket; other bounds (06:00 to 06:00), the buckets it
overlaps get partial partitions for what it leaves uncovered, so no range is left without a home.
Rows already waiting in the default partition for a new partition are moved into it when it is
created.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Literal

from reconciler.base.kinds import ChangeKind, Note, SpecProblem
from reconciler.base.names import MAX_NAME_BYTES, fit, fits, name_bytes
from reconciler.catalog.models import Catalog, LiveTable
from reconciler.render import quote_ident
from reconciler.resources.diffs import Diff
from reconciler.resources.document import Spec
from reconciler.resources.partitions.buckets import (
    Bucket,
    BucketInterval,
    bucket,
    bucket_index,
    partition_name,
    pieces,
    subtract,
)
from reconciler.resources.partitions.spec import PartitioningSpec

_BOUND = re.compile(r"^FOR VALUES FROM \((.+)\) TO \((.+)\)$", re.DOTALL)
TIME_TYPES = {"timestamp with time zone": "timestamptz", "timestamp without time zone": "timestamp", "date": "date"}


@dataclass(frozen=True)
class PartitionAction:
    """One thing to do about one partition of ``parent``."""

    action: Literal["create", "detach", "drop", "finalize"]
    parent: LiveTable
    name: str
    schema: str
    reason: str
    column: str = ""
    lower: str | None = None        # bound literals, in the column's type
    upper: str | None = None
    default: LiveTable | None = None  # the default partition rows may be moved out of
    rows_to_move: int = 0
    default_rows: int = 0             # rows in the default partition: ATTACH checks them while writes wait
    default_bytes: int = 0
    carve_max: int = 10_000           # up to this many rows, moving them or checking them is routine
    is_default: bool = False
    concurrently: bool = False

    @property
    def locks_long(self) -> bool:
        """Whether writes to the table would wait for work that grows with data (the table-lock
        hazard): more rows to move, or to check in the default partition, than ``carve_max``."""
        return self.rows_to_move > self.carve_max or self.default_rows > self.carve_max


@dataclass(frozen=True)
class TablePlan:
    """The partitions one partitioned table needs, before probing the database for conflicts."""

    key: str
    parent: LiveTable
    spec: PartitioningSpec
    column_type: str
    creates: list[tuple[Bucket, str]]      # (bucket or partial bucket, partition name)
    retire: list[tuple[LiveTable, datetime, datetime]]  # (partition, lower, upper)
    finalize: list[LiveTable]
    default: LiveTable | None
    create_default: str | None
    notes: list[Note]
    default_has_rows: bool = False
    expected_names: frozenset[str] = frozenset()
    name_of: Callable[[Bucket], str] | None = None


def _note(table: str, name: str, message: str) -> Note:
    return Note(kind=ChangeKind.PARTITION, name=name, table=table, message=message)


def column_type_kind(type_name: str) -> str | None:
    """``timestamptz``, ``timestamp`` or ``date`` for a partition key column's type, else None."""
    base = re.sub(r"\(\d+\)", "", type_name)
    return TIME_TYPES.get(base)


def literal(b: Bucket, upper: bool, kind: str) -> str:
    """A bucket bound as text in the column's type (instants in UTC, wall clock otherwise)."""
    if kind == "timestamptz":
        return (b.upper if upper else b.lower).strftime("%Y-%m-%d %H:%M:%S+00")
    moment = b.local_upper if upper else b.local_lower
    return moment.strftime("%Y-%m-%d") if kind == "date" else moment.strftime("%Y-%m-%d %H:%M:%S")


def parse_bound(text: str) -> tuple[str, str] | None:
    """``FOR VALUES FROM ('a') TO ('b')`` -> ``('a', 'b')``; None for DEFAULT, MINVALUE, lists."""
    match = _BOUND.match(text or "")
    if not match:
        return None
    values = []
    for part in match.groups():
        part = part.strip()
        if not (part.startswith("'") and part.endswith("'")) or "," in part.replace("''", ""):
            return None
        values.append(part[1:-1].replace("''", "'"))
    return values[0], values[1]


def _same_bound(live: str, desired: str, kind: str) -> bool:
    parse = date.fromisoformat if kind == "date" else datetime.fromisoformat
    try:
        return parse(live) == parse(desired)
    except ValueError:
        return False


def _instant(text: str, kind: str, spec: PartitioningSpec) -> datetime | None:
    try:
        if kind == "timestamptz":
            return datetime.fromisoformat(text).astimezone(UTC)
        moment = datetime.fromisoformat(text) if kind == "timestamp" else datetime.combine(date.fromisoformat(text),
                                                                                           datetime.min.time())
        return moment.replace(tzinfo=spec.zone).astimezone(UTC)
    except ValueError:
        return None


def _checked_parent(key: str, spec: PartitioningSpec, catalog: Catalog,
                    problems: list[SpecProblem]) -> tuple[LiveTable, str] | None:
    """The partitioned table and its column's kind (``timestamptz``, ``timestamp``, ``date``), or
    ``None`` with the problem appended when the table cannot be time-partitioned as declared."""
    path = ("tables", key, "partitioning")
    parent = catalog.table(key)
    if parent is None:
        return None
    expected_key = f"RANGE ({quote_ident(spec.column)})"
    if not parent.partitioned:
        problems.append((path, f"{key} is not partitioned; create it in your migrations as "
                               f"PARTITION BY {expected_key} (pgrecon keeps the partitions, not the table)"))
        return None
    if parent.partition_key != expected_key:
        problems.append((path, f"{key} is partitioned by {parent.partition_key}, the spec says {expected_key}"))
        return None
    column = parent.column(spec.column)
    kind = column_type_kind(column.type) if column else None
    if kind is None:
        problems.append((path + ("column",), f"partition column {spec.column} is {column.type if column else '?'}; "
                                             f"time partitioning needs timestamptz, timestamp or date"))
        return None
    if kind == "date" and spec.bucket_interval.unit == "hour":
        problems.append((path + ("interval",), f"{spec.column} is a date: buckets must be days or longer"))
        return None
    return parent, kind


@dataclass
class _Existing:
    """The partitions a table has: the ranged ones with their bounds, the default, those whose
    concurrent detach was interrupted, and notes about the odd ones."""

    ranged: list[tuple[LiveTable, datetime, datetime]] = field(default_factory=list)
    default: LiveTable | None = None
    finalize: list[LiveTable] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)


def _existing(key: str, spec: PartitioningSpec, catalog: Catalog, parent: LiveTable, kind: str,
              name_of: Callable[[Bucket], str]) -> _Existing:
    interval, tz, start = spec.bucket_interval, spec.zone, spec.start
    out = _Existing()
    for part in catalog.partitions_of(parent.oid):
        if part.partition_bound == "DEFAULT":
            out.default = part
            continue
        bounds = parse_bound(part.partition_bound or "")
        lo = _instant(bounds[0], kind, spec) if bounds else None
        hi = _instant(bounds[1], kind, spec) if bounds else None
        if bounds is None or lo is None or hi is None:
            out.notes.append(_note(key, part.name,
                                   f"partition with bounds {part.partition_bound} is not pgrecon's; left alone"))
            continue
        out.ranged.append((part, lo, hi))
        if part.detach_pending:
            out.finalize.append(part)
        b = bucket(interval, bucket_index(interval, lo, tz, start), tz, start)
        exact = (_same_bound(bounds[0], literal(b, False, kind), kind)
                 and _same_bound(bounds[1], literal(b, True, kind), kind))
        if exact and part.name != name_of(b):
            out.notes.append(_note(key, part.name, f"holds bucket {name_of(b)} under another name: kept as that "
                                                   f"bucket, retired by retention like the others"))
        elif not exact and not part.name.startswith(name_of(b)):
            out.notes.append(_note(key, part.name, f"bounds {part.partition_bound} are not one {interval} bucket: "
                                                   f"kept, retired by retention; the buckets around it get partial "
                                                   f"partitions"))
    return out


def _bucket_span(spec: PartitioningSpec, kind: str, now: datetime, existing: _Existing,
                 oldest_default: object) -> tuple[int, int, datetime | None]:
    """The first and last bucket the table should have, and the retention cutoff (if any)."""
    interval, tz, start = spec.bucket_interval, spec.zone, spec.start
    now_idx = bucket_index(interval, now, tz, start)
    last = now_idx + spec.premake
    cutoff = subtract(now, spec.retention_interval, tz) if spec.retention_interval else None
    if start is not None:
        first = 0
    else:
        first = min([now_idx - spec.premake_back,
                     *(bucket_index(interval, lo, tz, start) for _, lo, _ in existing.ranged)])
        waiting = _instant(str(oldest_default), kind, spec) if oldest_default is not None else None
        if waiting is not None:
            first = min(first, bucket_index(interval, waiting, tz, start))
    if cutoff is not None:
        first = max(first, bucket_index(interval, cutoff, tz, start))
    return first, last, cutoff


def _creates(key: str, spec: PartitioningSpec, span: tuple[int, int, datetime | None], existing: _Existing,
             name_of: Callable[[Bucket], str], problems: list[SpecProblem]) -> list[tuple[Bucket, str]] | None:
    """The buckets (or pieces of buckets, around hand-made partitions) to create, with their names;
    ``None`` with a problem appended when a name would be too long."""
    interval, tz, start = spec.bucket_interval, spec.zone, spec.start
    first, last, cutoff = span
    taken = [(lo, hi) for _, lo, hi in existing.ranged]
    creates = []
    for idx in range(first, last + 1):
        b = bucket(interval, idx, tz, start)
        if cutoff is not None and b.upper <= cutoff:
            continue
        for piece in pieces(b, taken, tz):
            name = name_of(b) if piece.lower == b.lower else f"{name_of(b)}_{_piece_suffix(piece, interval)}"
            if not fits(name):
                problems.append((("tables", key, "partitioning", "naming"),
                                 f"partition name {name!r} is {name_bytes(name)} bytes, longer than PostgreSQL "
                                 f"keeps ({MAX_NAME_BYTES}); set a shorter naming"))
                return None
            creates.append((piece, name))
    return creates


def _retired(key: str, cutoff: datetime | None, existing: _Existing,
             creates: list[tuple[Bucket, str]]) -> list[tuple[LiveTable, datetime, datetime]]:
    """Partitions past retention (never the last one, nor one being finalized)."""
    if cutoff is None:
        return []
    retire = [(part, lo, hi) for part, lo, hi in sorted(existing.ranged, key=lambda r: r[1])
              if hi <= cutoff and part not in existing.finalize]
    if len(existing.ranged) - len(retire) + len(creates) < 1 and retire:
        kept = retire.pop()  # never the last partition
        existing.notes.append(_note(key, kept[0].name, "kept although past retention: it is the last partition"))
    return retire


def plan_table(key: str, spec: PartitioningSpec, catalog: Catalog, now: datetime,
               problems: list[SpecProblem], oldest_default: object = None) -> TablePlan | None:
    """Which buckets to create, which partitions to retire and finalize for one table; problems
    are appended. ``oldest_default`` is the oldest value waiting in the default partition (buckets
    back to it are created, within retention, so that those rows get a home)."""
    checked = _checked_parent(key, spec, catalog, problems)
    if checked is None:
        return None
    parent, kind = checked

    def name_of(b: Bucket) -> str:
        return partition_name(spec.name_pattern, parent.name, spec.bucket_interval, b)

    existing = _existing(key, spec, catalog, parent, kind, name_of)
    span = _bucket_span(spec, kind, now, existing, oldest_default)
    creates = _creates(key, spec, span, existing, name_of, problems)
    if creates is None:
        return None
    retire = _retired(key, span[2], existing, creates)
    create_default = None
    if spec.default_partition and existing.default is None:
        create_default = fit(parent.name, "_default")
    elif not spec.default_partition and existing.default is not None:
        existing.notes.append(_note(key, existing.default.name, "default partition exists although "
                                                                "default_partition is false; pgrecon does not drop it"))
    expected = {name for _, name in creates}
    return TablePlan(key, parent, spec, kind, creates, retire, existing.finalize, existing.default, create_default,
                     existing.notes, default_has_rows=oldest_default is not None, expected_names=frozenset(expected),
                     name_of=name_of)


def _piece_suffix(piece: Bucket, interval: BucketInterval) -> str:
    """Where a partial bucket starts, for its name: ``0600`` (hour and minute, local), ``3000``
    (minute and second) in hour buckets."""
    return piece.lower.strftime("%M%S") if interval.unit == "hour" else piece.local_lower.strftime("%H%M")


@dataclass(frozen=True)
class CreateSize:
    """What the database says about a partition to create: rows waiting for it in the default
    partition, and the default partition's size (ATTACH checks it while writes wait)."""

    rows_to_move: int = 0
    default_rows: int = 0
    default_bytes: int = 0


def diff_partitions(plans: list[TablePlan], taken: set[tuple[str, str]], sizes: dict[tuple[str, str], CreateSize],
                    server_major: int) -> Diff[PartitionAction]:
    """Actions for the table plans, given the names already taken by other relations and, for each
    new partition, the rows waiting in the default partition (both probed by the caller)."""
    out: Diff[PartitionAction] = Diff()
    for plan in plans:
        parent, spec = plan.parent, plan.spec
        schema = parent.schema
        out.notes.extend(plan.notes)
        if plan.create_default:
            if (schema, plan.create_default) in taken:
                out.notes.append(_note(plan.key, plan.create_default, "cannot create the default partition: "
                                                                      "a relation with that name exists"))
            else:
                out.actions.append(PartitionAction("create", parent, plan.create_default, schema,
                                                   "no default partition", column=spec.column, is_default=True))
        for b, name in plan.creates:
            if (schema, name) in taken:
                out.notes.append(_note(plan.key, name, "a relation with this name exists and is not a partition "
                                                       "(detached earlier?); not created, not re-attached"))
                continue
            size = sizes.get((schema, name), CreateSize())
            lower, upper = literal(b, False, plan.column_type), literal(b, True, plan.column_type)
            reason = f"missing: [{lower}, {upper})"
            if size.rows_to_move:
                reason += f"; {size.rows_to_move} rows wait in the default partition and are moved into it"
            elif size.default_rows:
                reason += f"; the default partition holds {size.default_rows} other rows, which ATTACH checks"
            out.actions.append(PartitionAction(
                "create", parent, name, schema, reason, spec.column, lower, upper, default=plan.default,
                rows_to_move=size.rows_to_move, default_rows=size.default_rows, default_bytes=size.default_bytes,
                carve_max=spec.carve_max))
        has_default = plan.default is not None or plan.create_default is not None
        concurrently = server_major >= 14 and not has_default
        for part in plan.finalize:
            out.actions.append(PartitionAction("finalize", parent, part.name, part.schema,
                                               "an interrupted DETACH … CONCURRENTLY is pending"))
        for part, _, _ in plan.retire:
            bounds = parse_bound(part.partition_bound or "") or (None, None)
            made_by_hand = "" if part.name in plan.expected_names or _follows_naming(plan, part) else \
                " (a partition pgrecon did not make)"
            out.actions.append(PartitionAction(spec.retention_action, parent, part.name, part.schema,
                                               f"[{bounds[0]}, {bounds[1]}) is older than the retention of "
                                               f"{spec.retention}{made_by_hand}", spec.column,
                                               bounds[0], bounds[1], concurrently=concurrently))
    return out


def _follows_naming(plan: TablePlan, part: LiveTable) -> bool:
    bounds = parse_bound(part.partition_bound or "")
    lo = _instant(bounds[0], plan.column_type, plan.spec) if bounds else None
    if lo is None or plan.name_of is None:
        return False
    interval, tz = plan.spec.bucket_interval, plan.spec.zone
    b = bucket(interval, bucket_index(interval, lo, tz, plan.spec.start), tz, plan.spec.start)
    return part.name.startswith(plan.name_of(b))


def default_partition(catalog: Catalog, table: LiveTable | None) -> LiveTable | None:
    """The DEFAULT partition of ``table``, if it has one."""
    if table is None:
        return None
    return next((p for p in catalog.partitions_of(table.oid) if p.partition_bound == "DEFAULT"), None)


def partition_plans(spec: Spec, catalog: Catalog, now: datetime,
                    oldest_default: dict[str, object] | None = None) -> tuple[list[TablePlan], list[SpecProblem]]:
    """A :class:`TablePlan` for every table that declares ``partitioning``; ``oldest_default``
    maps a table key to the oldest value waiting in its default partition."""
    plans: list[TablePlan] = []
    problems: list[SpecProblem] = []
    for key, table in spec.tables.items():
        if table.partitioning is not None:
            plan = plan_table(key, table.partitioning, catalog, now, problems, (oldest_default or {}).get(key))
            if plan is not None:
                plans.append(plan)
    return plans, problems


