"""HypoPG for the checks of existing indexes: does hiding one raise a statement's cost?

Everything happens inside a transaction that is rolled back (the extension is created in it when
the database does not have it); hypothetical indexes live in the session only and are reset.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

from reconciler.commands.advise.explain import explain
from reconciler.commands.advise.stats import extension_schema
from reconciler.connect.session import fetch_value


def hypopg_available(conn: psycopg.Connection) -> bool:
    return bool(conn.execute("SELECT 1 FROM pg_catalog.pg_available_extensions WHERE name = 'hypopg'").fetchone())


class HypoPG:
    """HypoPG's functions, named with the schema the extension lives in (never found through the
    search_path, where another schema's function of the same name could come first)."""

    def __init__(self, schema: str):
        self.schema = schema

    def call(self, function: str, *args: sql.Composable) -> sql.Composed:
        """``SELECT schema.function(args)``."""
        return sql.SQL("SELECT * FROM {}.{}({})").format(sql.Identifier(self.schema), sql.Identifier(function),
                                                          sql.SQL(", ").join(args))

    def exists(self, conn: psycopg.Connection, function: str) -> bool:
        """Whether this HypoPG has ``function`` (1.4 has hypopg_hide_index, 1.3 does not)."""
        name = sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(function)).as_string(conn)
        return bool(fetch_value(conn, "SELECT pg_catalog.to_regproc(%s) IS NOT NULL", (name,)))


def install_hypopg(conn: psycopg.Connection) -> HypoPG:
    """HypoPG in the current transaction (created when the database does not have it)."""
    conn.execute("CREATE EXTENSION IF NOT EXISTS hypopg")
    return HypoPG(extension_schema(conn, "hypopg") or "public")


@contextmanager
def hypopg_session(conn: psycopg.Connection) -> Iterator[HypoPG]:
    """A rolled-back, read-only transaction in which HypoPG's functions exist."""
    with conn.transaction(force_rollback=True):
        hypopg = install_hypopg(conn)
        conn.execute("SELECT pg_catalog.set_config('transaction_read_only', 'on', true)")  # nothing else writes
        try:
            yield hypopg
        finally:
            conn.execute(hypopg.call("hypopg_reset"))


def cost_without(conn: psycopg.Connection, hypopg: HypoPG, index_oid: int, statements: list[str],
                 major: int) -> list[float | None]:
    """Costs of ``statements`` with a real index hidden from the planner."""
    conn.execute(hypopg.call("hypopg_hide_index", sql.Literal(index_oid)))
    try:
        return [explain(conn, s, major).cost for s in statements]
    finally:
        conn.execute(hypopg.call("hypopg_unhide_all_indexes"))
