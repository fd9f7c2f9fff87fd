"""The constants the application writes, from pg_qualstats (where it is installed and loaded).

pg_stat_statements turns constants into ``$n``; pg_qualstats keeps, per statement (query id) and
column, each constant a ``WHERE`` compared it with, how often, and how many rows it let through.
The advisor uses them twice:

- **values as the application asks for them**: a statement's equality parameter is costed at the
  constants recorded for it, weighted by how often each was asked, instead of the column's most
  common values (``status = 'failed'`` asked every time is costed at ``'failed'``, however rare);
- **partial indexes**: when every recorded call of a statement compared a column with the *same*
  constant and that constant lets through a small share of the rows, the statement gets a partial
  candidate on its other keys, ``WHERE column = constant`` (``(created_at) WHERE status =
  'pending'``): smaller, and only what the statement reads.

Constants are read as pg_qualstats prints them (``'failed'::text``, ``42::integer``); anything
else (an expression, a cast the parser here does not know) is left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from reconciler.commands.advise.shape import Table

MIN_CALLS = 3                 # calls a single constant needs before it makes a partial candidate
MAX_PARTIAL_SHARE = 0.2       # … and at most this share of the rows may match it

_TEXT = re.compile(r"'((?:[^']|'')*)'::[a-z ]+(\[\])?")
_NUMBER = re.compile(r"(-?\d+(?:\.\d+)?)::[a-z ]+")

_QUERY = """
SELECT q.queryid, n.nspname AS schema, c.relname AS table, a.attname AS column, q.constvalue,
       sum(q.occurences)::float8 AS calls, sum(q.execution_count)::float8 AS seen,
       sum(q.nbfiltered)::float8 AS filtered
FROM {}() q
JOIN pg_catalog.pg_class c ON c.oid = q.lrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = q.lrelid AND a.attnum = q.lattnum
JOIN pg_catalog.pg_operator o ON o.oid = q.opno
WHERE q.dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())
  AND o.oprname = '=' AND q.constvalue IS NOT NULL AND q.queryid IS NOT NULL
GROUP BY 1, 2, 3, 4, 5"""


def constant(text: str | None) -> str | None:
    """The value of a constant as pg_qualstats prints it, or None when it is not a plain one."""
    if not text:
        return None
    found = _TEXT.fullmatch(text.strip())
    if found and not found.group(2):
        return found.group(1).replace("''", "'")
    found = _NUMBER.fullmatch(text.strip())
    return found.group(1) if found else None


@dataclass(frozen=True)
class Asked:
    """One constant a statement compared a column with: how often, and the share of rows it let
    through (None when pg_qualstats saw no rows)."""

    value: str
    calls: float
    matched: float | None


Constants = dict[int, dict[tuple[Table, str], list[Asked]]]   # queryid -> (table, column) -> constants


def collect(rows: Iterable[dict[str, Any]]) -> Constants:
    """Rows of :data:`_QUERY` as constants per statement and column (pure)."""
    out: Constants = {}
    for row in rows:
        value = constant(row.get("constvalue"))
        if value is None:
            continue
        seen, filtered = float(row.get("seen") or 0), float(row.get("filtered") or 0)
        matched = (seen - filtered) / seen if seen else None
        key = ((str(row["schema"]), str(row["table"])), str(row["column"]))
        out.setdefault(int(row["queryid"]), {}).setdefault(key, []).append(
            Asked(value, float(row.get("calls") or 0), matched))
    return out


def read_constants(conn: psycopg.Connection[Any], schema: str | None) -> Constants:
    """What pg_qualstats recorded in this database (nothing when it is not installed here, or
    not loaded)."""
    if not schema:
        return {}
    try:
        with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
            cur.execute(sql.SQL(_QUERY).format(sql.Identifier(schema, "pg_qualstats")))
            return collect(cur.fetchall())
    except psycopg.Error:
        return {}       # created but not in shared_preload_libraries: nothing recorded


def weighted(asked: list[Asked]) -> list[tuple[str | None, float]]:
    """The constants as parameter values with their weights (shares of the calls)."""
    total = sum(a.calls for a in asked) or 1.0
    return [(a.value, a.calls / total) for a in sorted(asked, key=lambda a: -a.calls)]


def single_selective(asked: list[Asked]) -> Asked | None:
    """The one constant every call used, when it was used often enough and lets through a small
    share of the rows: what a partial index can be built for."""
    if len(asked) != 1:
        return None
    only = asked[0]
    if only.calls < MIN_CALLS or only.matched is None or only.matched > MAX_PARTIAL_SHARE:
        return None
    return only
