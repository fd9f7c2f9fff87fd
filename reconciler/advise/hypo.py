"""HypoPG for the checks of existing indexes: does hiding one raise a statement's cost?

Everything happens inside a transaction that is rolled back (the extension is created in it when
the database does not have it); hypothetical indexes live in the session only and are reset.
"""

from __future__ import annotations

from contextlib import contextmanager

import psycopg

from .explain import explain


def hypopg_available(conn: psycopg.Connection) -> bool:
    return bool(conn.execute("SELECT 1 FROM pg_catalog.pg_available_extensions WHERE name = 'hypopg'").fetchone())


@contextmanager
def hypopg_session(conn: psycopg.Connection):
    """A rolled-back transaction in which HypoPG's functions exist."""
    with conn.transaction(force_rollback=True):
        conn.execute("CREATE EXTENSION IF NOT EXISTS hypopg")
        try:
            yield
        finally:
            conn.execute("SELECT hypopg_reset()")


def cost_without(conn: psycopg.Connection, index_oid: int, statements: list[str], major: int) -> list[float | None]:
    """Costs of ``statements`` with a real index hidden from the planner."""
    conn.execute("SELECT hypopg_hide_index(%s)", (index_oid,))
    try:
        return [explain(conn, s, major).cost for s in statements]
    finally:
        conn.execute("SELECT hypopg_unhide_all_indexes()")
