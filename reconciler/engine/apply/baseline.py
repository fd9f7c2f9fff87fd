"""What an advised index is measured against: the figures of the statements it was built for, and
its table's write counters, at the moment apply built it.

``advise --write`` marks the indexes it adds (``advised: {at, for: [query ids]}``). When apply
creates one, this records a *baseline* in that change's entry of ``pgrecon.history``: for each
query id, pg_stat_statements' cumulative calls, total and standard deviation of execution time and
rows (summed over users, in this database), and the table's ``pg_stat_user_tables`` insert,
update, HOT-update and delete counters. ``advise --review`` compares the time since with it. No
pg_stat_statements here: the baseline holds the table's counters only.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from reconciler.base.kinds import Action, ChangeKind
from reconciler.connect.session import fetch_value
from reconciler.resources.document import Spec
from reconciler.spec.types import split_table_key

_STATEMENTS = """
SELECT queryid, sum(calls)::float8 AS calls, sum(total_exec_time)::float8 AS total_ms,
       sum(calls * (stddev_exec_time ^ 2 + mean_exec_time ^ 2))::float8 AS sumsq_ms, sum(rows)::float8 AS rows
FROM {} WHERE queryid = ANY(%s)
  AND dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())
GROUP BY queryid"""
_TABLE = """
SELECT n_tup_ins::float8 AS inserted, n_tup_upd::float8 AS updated, n_tup_hot_upd::float8 AS hot_updated,
       n_tup_del::float8 AS deleted
FROM pg_catalog.pg_stat_user_tables WHERE schemaname = %s AND relname = %s"""


def statements_view(conn: psycopg.Connection[Any]) -> sql.Composable | None:
    """``<schema>.pg_stat_statements``, schema-qualified, when the extension is created here."""
    schema = fetch_value(conn, "SELECT n.nspname FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n "
                               "ON n.oid = e.extnamespace WHERE e.extname = 'pg_stat_statements'")
    return sql.Identifier(schema, "pg_stat_statements") if schema else None


def measure(conn: psycopg.Connection[Any], table: tuple[str, str], queryids: list[int]) -> dict[str, Any]:
    """The figures a review compares: per query id, and the table's write counters, now."""
    view = statements_view(conn)
    statements: dict[str, dict[str, float]] = {}
    with conn.cursor(row_factory=dict_row) as cur:
        if view is not None and queryids:
            try:
                with conn.transaction():
                    cur.execute(sql.SQL(_STATEMENTS).format(view), (queryids,))
                    statements = {str(r.pop("queryid")): r for r in cur.fetchall()}
            except psycopg.Error:
                statements = {}          # not preloaded: its view cannot be read
        cur.execute(_TABLE, table)
        counters = cur.fetchone() or {}
    at = fetch_value(conn, "SELECT pg_catalog.now()")
    return {"at": at.isoformat() if at else None, "statements": statements, "table": counters,
            "statements_available": view is not None}


def advised_baselines(conn: psycopg.Connection[Any], spec: Spec, changes: list[Any]) -> dict[int, dict[str, Any]]:
    """Baselines for the advised indexes among the ``changes`` apply just made (by their position
    in the plan)."""
    out: dict[int, dict[str, Any]] = {}
    for number, change in enumerate(changes):
        if change is None or change.kind != ChangeKind.INDEX or change.action != Action.CREATE or not change.table:
            continue
        table_spec = spec.tables.get(change.table)
        index = next((i for i in table_spec.indexes if i.name == change.name), None) if table_spec else None
        if index is None or index.advised is None:
            continue
        try:
            out[number] = {"advised": index.advised.model_dump(by_alias=True),
                           **measure(conn, split_table_key(change.table), index.advised.for_)}
        except psycopg.Error:
            continue    # a courtesy, like the history itself
    return out
