"""One apply per database at a time: a session-level advisory lock.

A second ``apply`` waits up to ``lock_wait`` for the first, then gives up with a message that
names the session holding the lock. Advisory locks are per database, so applies to different
databases on one server do not wait for each other.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg
from psycopg.rows import dict_row

from reconciler.base.errors import Refused
from reconciler.base.units import format_duration_ms
from reconciler.connect.session import fetch_value

APPLY_LOCK_KEY = 0x7067726563_6F6E  # "pgrecon" as a bigint

_HOLDER_SQL = """
SELECT a.pid, a.usename, a.application_name, a.client_addr::text AS client_addr,
       a.backend_start, a.state
FROM pg_catalog.pg_locks l
JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted
  AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
  AND l.classid = %(high)s AND l.objid = %(low)s AND l.objsubid = 1
"""


def describe_session(row: dict[str, Any]) -> str:
    """``pid 123 (user app, application psql, from 10.0.0.5, state idle in transaction)``."""
    bits = [f"user {row.get('usename')}"]
    if row.get("application_name"):
        bits.append(f"application {row['application_name']}")
    if row.get("client_addr"):
        bits.append(f"from {row['client_addr']}")
    if row.get("state"):
        bits.append(f"state {row['state']}")
    if row.get("query"):
        bits.append(f"query {row['query']!r}")
    return f"pid {row['pid']} ({', '.join(bits)})"


def lock_holder(conn: psycopg.Connection) -> dict[str, Any] | None:
    """The session holding the apply lock on this database, if any."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(_HOLDER_SQL, {"high": APPLY_LOCK_KEY >> 32, "low": APPLY_LOCK_KEY & 0xFFFFFFFF})
        return cur.fetchone()


def acquire_apply_lock(conn: psycopg.Connection, wait_ms: int, poll_s: float = 0.2) -> float:
    """Take the apply lock, waiting up to ``wait_ms``; returns the seconds waited.

    Raises :class:`Refused` naming the holder when the wait runs out.
    """
    started = time.monotonic()
    deadline = started + wait_ms / 1000
    while True:
        got = fetch_value(conn, "SELECT pg_catalog.pg_try_advisory_lock(%s)", (APPLY_LOCK_KEY,))
        if got:
            return time.monotonic() - started
        if time.monotonic() >= deadline:
            holder = lock_holder(conn)
            who = describe_session(holder) if holder else "a session that has since gone"
            raise Refused(f"another pgrecon apply is running on this database: {who}; waited "
                          f"{format_duration_ms(wait_ms)} (--lock-wait). Run apply again when it has finished.")
        time.sleep(poll_s)


def release_apply_lock(conn: psycopg.Connection) -> None:
    """Release the apply lock (also released when the session ends)."""
    if not conn.closed:
        conn.execute("SELECT pg_catalog.pg_advisory_unlock(%s)", (APPLY_LOCK_KEY,))
