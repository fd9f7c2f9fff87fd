"""A running PgBouncer, through its admin console: what it runs with, and RELOAD.

The admin console speaks only the simple query protocol, so a client-side-binding cursor is used.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from reconciler.connect.session import open_connection
from reconciler.resources.pgbouncer.diff import LivePgbouncer

SHOW = {"CONFIG": "SHOW CONFIG", "DATABASES": "SHOW DATABASES", "VERSION": "SHOW VERSION", "POOLS": "SHOW POOLS",
        "USERS": "SHOW USERS"}


def admin_connect(dsn: str) -> psycopg.Connection:
    """Connect to the admin console (``dbname=pgbouncer``); errors name the target, not secrets."""
    return open_connection(dsn, "the PgBouncer admin console", autocommit=True, cursor_factory=psycopg.ClientCursor)


def show(conn: psycopg.Connection, what: str) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(SHOW[what])
        return cur.fetchall()


def read_live(dsn: str) -> LivePgbouncer:
    """``SHOW VERSION``, ``SHOW CONFIG`` and ``SHOW DATABASES`` of the PgBouncer at ``dsn``."""
    with admin_connect(dsn) as conn:
        version_rows = show(conn, "VERSION")
        version = str(next(iter(version_rows[0].values()))).split()[-1] if version_rows else "?"
        config = {r["key"]: (r["value"], r.get("changeable") == "yes") for r in show(conn, "CONFIG")}
        databases = {r["name"]: r for r in show(conn, "DATABASES")}
    return LivePgbouncer(version, config, databases)


def reload(dsn: str) -> None:
    with admin_connect(dsn) as conn:
        conn.execute("RELOAD")
