"""Read-only statistics for the advisor: statements, tables, indexes, the database, sessions."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from reconciler.catalog.models import LiveIndex, LiveTable
from reconciler.catalog.reader import live_table, read_indexes, read_tables
from reconciler.connect.session import fetch_value


@cache
def advise_sql(name: str) -> str:
    return resources.files(__package__).joinpath("sql", f"{name}.sql").read_text()


def _rows(conn: psycopg.Connection, name: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(advise_sql(name), params)
        return cur.fetchall()


@dataclass(frozen=True)
class StatementsStatus:
    """Whether pg_stat_statements can be read here, and what would fix it if not."""

    available: bool
    installed: bool
    preloaded: bool
    reason: str = ""
    schema: str = ""   # where the extension lives: its view is named with it


def extension_schema(conn: psycopg.Connection, name: str) -> str | None:
    """The schema extension ``name`` is installed in (``None``: not installed): its objects are
    named with it, never found through the search_path."""
    found = fetch_value(conn, "SELECT n.nspname::text FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n "
                              "ON n.oid = e.extnamespace WHERE e.extname = %s", (name,))
    return str(found) if found is not None else None


def statements_status(conn: psycopg.Connection) -> StatementsStatus:
    schema = extension_schema(conn, "pg_stat_statements")
    installed = schema is not None
    preload = fetch_value(conn, "SELECT pg_catalog.current_setting('shared_preload_libraries')")
    preloaded = "pg_stat_statements" in [p.strip() for p in preload.split(",")]
    if installed and preloaded:
        return StatementsStatus(True, True, True, schema=schema or "")
    missing = []
    if not installed:
        missing.append("the extension is not created in this database")
    if not preloaded:
        missing.append("the library is not in shared_preload_libraries")
    return StatementsStatus(False, installed, preloaded, "; ".join(missing))


def statements(conn: psycopg.Connection, schema: str) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql.SQL(advise_sql("statements")).format(schema=sql.Identifier(schema)))
        return cur.fetchall()


@dataclass
class Snapshot:
    """Everything the advisor looks at, read once."""

    tables: list[dict[str, Any]]
    index_stats: dict[int, dict[str, Any]]
    live_tables: dict[int, LiveTable]
    live_indexes: dict[int, LiveIndex]
    database: dict[str, Any]
    connections: list[dict[str, Any]]
    status: StatementsStatus
    statements: list[dict[str, Any]] = field(default_factory=list)
    column_stats: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    server_major: int = 0


def read_snapshot(conn: psycopg.Connection) -> Snapshot:
    """User tables and their indexes (defined as the catalog stage reads them), statistics,
    pg_stat_statements when available."""
    tables = _rows(conn, "tables")
    keys = [(t["schema"], t["name"]) for t in tables]
    table_dicts = read_tables(conn, keys)
    live_tables = {d["oid"]: live_table(d) for d in table_dicts}
    live_indexes, _ = read_indexes(conn, table_dicts)
    index_stats = {r["oid"]: r for r in _rows(conn, "indexes", {"tables": list(live_tables)})}
    status = statements_status(conn)
    rows = statements(conn, status.schema) if status.available else []
    major = int(fetch_value(conn, "SHOW server_version_num")) // 10000
    snap = Snapshot(tables, index_stats, live_tables, live_indexes, _rows(conn, "database")[0],
                    _rows(conn, "connections"), status, rows, server_major=major)
    if keys:
        for row in _rows(conn, "column_stats", {"schemas": [s for s, _ in keys], "tables": [t for _, t in keys]}):
            snap.column_stats[(row["schema"], row["table"], row["column"])] = row
    return snap
