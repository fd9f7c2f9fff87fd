"""Read-only probes for partition planning: "now", names already taken, rows in a default partition.

They run only for tables that declare ``partitioning`` and only about the buckets a plan would
create, so their cost follows the spec's partitions, not the size of the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from reconciler.catalog.models import LiveTable


def taken_names(conn: psycopg.Connection, names: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which ``(schema, name)`` pairs already name a relation."""
    if not names:
        return set()
    rows = conn.execute(
        "SELECT n.nspname::text, c.relname::text FROM unnest(%s::text[], %s::text[]) AS w(s, r) "
        "JOIN pg_catalog.pg_namespace n ON n.nspname = w.s "
        "JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = w.r",
        ([s for s, _ in names], [r for _, r in names])).fetchall()
    return {(s, r) for s, r in rows}


@dataclass(frozen=True)
class RangeCount:
    """Count rows of ``default`` with ``column`` in ``[lower, upper)`` (literals already typed)."""

    default: LiveTable
    column: str
    lower: str
    upper: str


def rows_in_ranges(conn: psycopg.Connection, requests: list[RangeCount]) -> list[int]:
    """Rows waiting in default partitions for each requested range: one scan per default partition."""
    counts = [0] * len(requests)
    by_default: dict[int, list[int]] = {}
    for i, request in enumerate(requests):
        by_default.setdefault(request.default.oid, []).append(i)
    for positions in by_default.values():
        first = requests[positions[0]]
        column = sql.Identifier(first.column)
        filters = [sql.SQL("count(*) FILTER (WHERE {c} >= {lo} AND {c} < {hi})").format(
            c=column, lo=sql.Literal(requests[i].lower), hi=sql.Literal(requests[i].upper)) for i in positions]
        query = sql.SQL("SELECT {} FROM ONLY {}").format(
            sql.SQL(", ").join(filters), sql.Identifier(first.default.schema, first.default.name))
        row = conn.execute(query).fetchone() or ()
        for i, count in zip(positions, row, strict=True):
            counts[i] = count
    return counts


@dataclass(frozen=True)
class DefaultStats:
    """What waits in a default partition: the oldest value of the partition column, how many rows,
    and its size on disk (bytes, with indexes and TOAST)."""

    oldest: Any
    rows: int
    bytes: int


def default_stats(conn: psycopg.Connection, requests: list[tuple[LiveTable, str]]) -> list[DefaultStats]:
    """:class:`DefaultStats` of each ``(default partition, column)``, in one query."""
    if not requests:
        return []
    parts = []
    for table, column in requests:
        name = sql.Identifier(table.schema, table.name)
        parts.append(sql.SQL("(SELECT min({}) FROM ONLY {}), (SELECT count(*) FROM ONLY {}), "
                             "pg_catalog.pg_total_relation_size({}::oid)").format(
            sql.Identifier(column), name, name, sql.Literal(table.oid)))
    row = conn.execute(sql.SQL("SELECT ") + sql.SQL(", ").join(parts)).fetchone() or ()
    return [DefaultStats(row[3 * i], int(row[3 * i + 1]), int(row[3 * i + 2])) for i in range(len(requests))]
