"""Time partitions: created ``premake`` buckets ahead of now, retired by retention; rows waiting in
the default partition are moved into a new bucket. Creates run after the index changes (a new
partition gets the parent's indexes at once), retirements last."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from reconciler.base.kinds import Action, ChangeKind
from reconciler.catalog.models import Catalog, LiveTable
from reconciler.catalog.reader import database_now
from reconciler.plan.locks import ACCESS_EXCLUSIVE, SHARE, SHARE_UPDATE_EXCLUSIVE
from reconciler.plan.models import Change, Hazard, Statement
from reconciler.render import quote_ident, render_statement
from reconciler.resources.base import InspectContext, PlanContext, ResourceType
from reconciler.resources.diffs import Diff, SpecProblem
from reconciler.resources.document import Spec
from reconciler.resources.partitions.buckets import (
    Bucket,
    BucketInterval,
    bucket,
    bucket_index,
    default_naming,
    parse_interval,
    partition_name,
)
from reconciler.resources.partitions.diff import (
    CreateSize,
    PartitionAction,
    TablePlan,
    column_type_kind,
    default_partition,
    diff_partitions,
    literal,
    parse_bound,
    partition_plans,
)
from reconciler.resources.partitions.read import RangeCount, default_stats, rows_in_ranges, taken_names

CREATE_PHASE, RETIRE_PHASE = 50, 90


@dataclass
class PartitionState:
    """The table plans, and what the database said about them: names taken, rows waiting."""

    plans: list[TablePlan] = field(default_factory=list)
    problems: list[SpecProblem] = field(default_factory=list)
    taken: set[tuple[str, str]] = field(default_factory=set)
    sizes: dict[tuple[str, str], CreateSize] = field(default_factory=dict)
    major: int = 0


class Partitions(ResourceType[PartitionState, Diff[PartitionAction]]):
    kind: ClassVar[ChangeKind] = ChangeKind.PARTITION
    section: ClassVar[str] = "partitions"
    phase: ClassVar[int] = CREATE_PHASE

    def declared(self, spec: Spec) -> bool:
        return any(t.partitioning is not None for t in spec.tables.values())

    def read(self, ctx: PlanContext) -> PartitionState:
        """Plan each partitioned table, then probe the database: what waits in default partitions,
        names taken, and the rows each new partition would take out of the default partition."""
        spec, catalog, conn = ctx.spec, ctx.catalog, ctx.conn
        defaults: list[tuple[str, LiveTable, str]] = []
        for key, t in spec.tables.items():
            found = default_partition(catalog, catalog.table(key)) if t.partitioning is not None else None
            if found is not None and t.partitioning is not None and found.column(t.partitioning.column):
                defaults.append((key, found, t.partitioning.column))
        stats = dict(zip([k for k, _, _ in defaults], default_stats(conn, [(d, c) for _, d, c in defaults]),
                         strict=True))
        plans, problems = partition_plans(spec, catalog, ctx.now, {k: s.oldest for k, s in stats.items()})
        if problems:
            return PartitionState(problems=problems)
        wanted = [(p.parent.schema, name) for p in plans for _, name in p.creates]
        wanted += [(p.parent.schema, p.create_default) for p in plans if p.create_default]
        requests, keys = [], []
        sizes: dict[tuple[str, str], CreateSize] = {}
        for p in plans:
            waiting = stats.get(p.key)
            if p.default is None or waiting is None:
                continue
            for b, name in p.creates:
                sizes[(p.parent.schema, name)] = CreateSize(0, waiting.rows, waiting.bytes)
                if waiting.rows:
                    requests.append(RangeCount(p.default, p.spec.column, literal(b, False, p.column_type),
                                               literal(b, True, p.column_type)))
                    keys.append((p.parent.schema, name))
        for where, count in zip(keys, rows_in_ranges(conn, requests) if requests else [], strict=True):
            before = sizes[where]
            sizes[where] = CreateSize(count, before.default_rows, before.default_bytes)
        return PartitionState(plans, [], taken_names(conn, wanted), sizes, catalog.server.major)

    def diff(self, ctx: PlanContext, live: PartitionState) -> Diff[PartitionAction]:
        if live.problems:
            return Diff(problems=list(live.problems))
        return diff_partitions(live.plans, live.taken, live.sizes, live.major)

    def changes(self, diff: Diff[PartitionAction]) -> list[tuple[int, Change]]:
        return [(CREATE_PHASE if a.action == "create" else RETIRE_PHASE, partition_change(a)) for a in diff.actions]

    def export(self, ctx: InspectContext) -> dict[str, Any]:
        now = database_now(ctx.conn)
        tables: dict[str, Any] = {}
        for table in ctx.catalog.named_tables():
            if table.partitioned:
                found = infer_partitioning(ctx.catalog, table, now)
                if found is not None and "column" in found:
                    tables[table.key] = {"partitioning": found}
                elif found is not None:
                    tables[table.key] = found  # remarks only: why partitioning is not exported
        return {"tables": tables} if tables else {}


_INTERVALS = ("hour", "day", "week", "month", "year")
_NAMINGS = ("{table}_p%Y%m%d%H", "{table}_p%Y%m%d", "{table}_p%Y%m", "{table}_p%Y", "{table}_%Y%m%d",
            "{table}_%Y_%m_%d", "{table}_%Y%m", "{table}_%Y_%m", "{table}_%Y", "{table}_y%Ym%md%d", "{table}_y%Ym%m",
            "{table}_%Y%m%d%H", "{table}_%Y_%m_%d_%H")


def infer_partitioning(catalog: Catalog, table: LiveTable, now: datetime) -> dict[str, Any] | None:
    """The ``partitioning`` section that describes ``table``'s partitions as they are: a range on
    one time column, partitions that are whole buckets of one interval (in UTC). ``None`` when
    the partitions are not that; a ``#`` key holds remarks for a comment."""
    found = _time_column(table)
    if found is None:
        return None
    column_name, kind = found
    ranged = []
    for part in catalog.partitions_of(table.oid):
        if part.partition_bound != "DEFAULT":
            bounds = parse_bound(part.partition_bound or "")
            if bounds is None:
                return None
            ranged.append((part, bounds))
    if not ranged:
        return None
    for unit in _INTERVALS:
        if kind == "date" and unit == "hour":
            continue
        buckets = _whole_buckets(ranged, kind, parse_interval(unit))
        if buckets is not None:
            return _section(catalog, table, column_name, unit, buckets, now)
    return None


def _time_column(table: LiveTable) -> tuple[str, str] | None:
    """The one time column ``table`` is partitioned by range on, and its kind."""
    key = table.partition_key or ""
    if not key.startswith("RANGE (") or len(table.partition_columns) != 1 or table.partition_columns[0] is None:
        return None
    column_name = table.partition_columns[0]
    if key != f"RANGE ({quote_ident(column_name)})":
        return None
    column = table.column(column_name)
    kind = column_type_kind(column.type) if column else None
    return (column_name, kind) if kind is not None else None


def _whole_buckets(ranged: list[tuple[LiveTable, tuple[str, str]]], kind: str,
                   interval: BucketInterval) -> dict[int, tuple[LiveTable, Bucket]] | None:
    """Each partition as a whole bucket of ``interval`` (in UTC), by bucket index; ``None`` when one
    is not."""
    zone = ZoneInfo("UTC")
    indexes = {}
    for part, bounds in ranged:
        lower = _instant(bounds[0], kind)
        if lower is None:
            return None
        b = bucket(interval, bucket_index(interval, lower, zone), zone)
        wanted = (literal(b, False, kind), literal(b, True, kind))
        if wanted != (_normal(bounds[0], kind), _normal(bounds[1], kind)):
            return None
        indexes[b.index] = (part, b)
    return indexes


def _section(catalog: Catalog, table: LiveTable, column_name: str, unit: str,
             indexes: dict[int, tuple[LiveTable, Bucket]], now: datetime) -> dict[str, Any]:
    """The partitioning section for partitions that are whole ``unit`` buckets (or remarks only,
    saying why there is none)."""
    interval = parse_interval(unit)
    out: dict[str, Any] = {"column": column_name, "interval": unit}
    remarks = []
    ahead = max(indexes) - bucket_index(interval, now, ZoneInfo("UTC"))
    gaps = sorted(set(range(min(indexes), max(indexes) + 1)) - set(indexes))
    if ahead < 1 or gaps:
        why = ("its partitions end before the one after now" if ahead < 1
               else f"{len(gaps)} {unit} bucket(s) between its partitions have none")
        return {"#": [f"{table.key}: {len(indexes)} partitions by {unit} on {column_name}; partitioning "
                      f"is not exported because {why}, and the first apply would create partitions. Add "
                      f"a partitioning section when pgrecon is to keep them."]}
    out["premake"] = ahead
    naming = next((n for n in _NAMINGS if all(
        partition_name(n, table.name, interval, b) == part.name for part, b in indexes.values())), None)
    if naming is None:
        remarks.append("partition names follow no pattern pgrecon knows: they are kept, new ones get the "
                       "default names")
    elif naming != default_naming(interval):
        out["naming"] = naming
    if default_partition(catalog, table) is None:
        out["default_partition"] = False
    remarks.append("retention is not inferred: partitions are kept until you set one")
    out["#"] = remarks
    return out


def _instant(text: str, kind: str) -> datetime | None:
    try:
        if kind == "date":
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        value = datetime.fromisoformat(text)
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except ValueError:
        return None


def _normal(text: str, kind: str) -> str:
    """A bound as :func:`literal` writes it (the server may print ``+00`` or drop seconds)."""
    moment = _instant(text, kind)
    if moment is None:
        return text
    if kind == "timestamptz":
        return moment.strftime("%Y-%m-%d %H:%M:%S+00")
    return moment.strftime("%Y-%m-%d") if kind == "date" else moment.strftime("%Y-%m-%d %H:%M:%S")


def partition_change(action: PartitionAction) -> Change:
    """The statements and hazards of one partition action."""
    parent = (action.parent.schema, action.parent.name)
    name = (action.schema, action.name)
    hazards: list[Hazard] = []
    details: dict[str, Any] = {"from": action.lower, "to": action.upper} if action.lower is not None else {}
    if action.action == "create":
        default = (action.default.schema, action.default.name) if action.default is not None else None
        sql = render_statement("partitions/create_partition", name=name, parent=parent, column=action.column,
                               lower=action.lower, upper=action.upper, is_default=action.is_default,
                               default=default, columns=[c.name for c in action.parent.columns])
        # With a default partition, writes to the table wait (SHARE) while rows move and ATTACH
        # checks the default partition: milliseconds up to carve_max rows, the table-lock hazard above.
        statements = [Statement(sql=sql, block=True, lock=SHARE if default else SHARE_UPDATE_EXCLUSIVE)]
        if action.locks_long:
            hazards.append(Hazard.TABLE_LOCK)
        if default is not None:
            details.update(rows_to_move=action.rows_to_move, default_rows=action.default_rows,
                           default_bytes=action.default_bytes, carve_max=action.carve_max)
        if action.is_default:
            details["default"] = True
    elif action.action == "finalize":
        statements = [Statement(sql=render_statement("partitions/detach_partition", parent=parent, name=name,
                                                     concurrently=False, finalize=True),
                                transactional=False, lock=SHARE_UPDATE_EXCLUSIVE)]
    elif action.action == "detach":
        statements = [Statement(sql=render_statement("partitions/detach_partition", parent=parent, name=name,
                                                     concurrently=action.concurrently, finalize=False),
                                transactional=not action.concurrently,
                                lock=SHARE_UPDATE_EXCLUSIVE if action.concurrently else ACCESS_EXCLUSIVE)]
        hazards.append(Hazard.PARTITION_DETACH)
    else:  # drop: one atomic statement (a DETACH CONCURRENTLY then DROP could leave a detached table behind)
        statements = [Statement(sql=render_statement("partitions/drop_table", name=name), lock=ACCESS_EXCLUSIVE)]
        hazards.append(Hazard.PARTITION_DROP)
    return Change(kind=ChangeKind.PARTITION, action=Action(action.action), name=action.name, table=action.parent.key,
                  reason=action.reason, statements=tuple(statements), hazards=tuple(hazards), details=details)


