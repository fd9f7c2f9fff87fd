"""Connections: where the DSN comes from, and how it is shown (never with its password).

Order of precedence: ``--dsn``, then the spec's ``target.dsn``, then libpq's ``PG*`` variables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from reconciler.base.errors import ConnectionFailed
from reconciler.base.redaction import redact, remember, remember_dsn

__all__ = ["READS", "SessionPolicy", "check_dsn", "connect", "describe_dsn", "open_connection", "redact",
           "resolve_dsn", "set_up_session"]

APPLICATION_NAME = "pgrecon"


def describe_dsn(dsn: str | None) -> str:
    """``user@host:port/dbname`` for messages; passwords and other secrets are left out."""
    try:
        parts = conninfo_to_dict(dsn or "")
    except psycopg.ProgrammingError:
        return "(unparseable DSN)"
    host = str(parts.get("host") or "(PGHOST or local socket)")
    port = str(parts.get("port") or "")
    user = str(parts.get("user") or "")
    db = str(parts.get("dbname") or "")
    text = f"{host}{':' + port if port else ''}/{db}"
    return f"{user}@{text}" if user else text


def resolve_dsn(flag: str | None, spec_dsn: str | None) -> str:
    """The DSN to use: the flag, else the spec's, else empty (libpq reads ``PG*`` variables)."""
    return flag or spec_dsn or ""


def check_dsn(dsn: str, what: str = "") -> dict[str, Any]:
    """``dsn`` parsed by libpq's rules; one that does not parse is a :class:`ConnectionFailed`
    that never quotes it (the parser's message names the token it stopped at, which may be the
    password)."""
    remember_dsn(dsn)
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        label = f"the DSN of {what}" if what else "the DSN"
        raise ConnectionFailed(f"{label} is not a valid libpq connection string or URI (not shown: it may hold a "
                               f"password); check its quoting, and percent-encode special characters in a URI's "
                               f"password") from None
    remember(str(parts.get("password") or ""))
    return parts


def open_connection(dsn: str, what: str = "", **options: Any) -> psycopg.Connection:
    """``psycopg.connect(dsn, **options)`` with a 10 s connect timeout; a failure becomes a
    :class:`ConnectionFailed` that names the target (``what``, then ``user@host:port/db``) and
    never its password."""
    check_dsn(dsn, what)
    try:
        return psycopg.connect(dsn, connect_timeout=10, **options)
    except psycopg.Error as exc:
        reason = redact(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__, (dsn,))
        target = f"{what} {describe_dsn(dsn)}" if what else describe_dsn(dsn)
        raise ConnectionFailed(f"cannot connect to {target}: {reason}") from None


@dataclass(frozen=True)
class SessionPolicy:
    """How every pgrecon session is set up, whatever the role, database, DSN or ``PGOPTIONS`` say.

    ``standard_conforming_strings`` is on (pglast checks SQL text as the server then reads it:
    with it off, ``'\\'`` ends a literal early); the ``search_path`` is pgrecon's —
    ``search_path`` then ``pg_temp``: ``pg_catalog``, left out, is searched before everything (a
    built-in cannot be shadowed) and the first schema stays where CREATE EXTENSION installs;
    listed last, a temporary object never shadows another; UTC and ISO dates; ``statement_timeout`` and
    ``lock_timeout`` bound every read (apply sets its own per statement); ``read_only`` makes
    every transaction read-only (without it, a read-only default of the role, database or DSN is
    kept: pgrecon never makes a session writable)."""

    statement_timeout_ms: int = 120_000
    lock_timeout_ms: int = 10_000
    read_only: bool = False
    search_path: tuple[str, ...] = ("$user", "public")

    def search_path_text(self) -> str:
        """The ``search_path`` value, each schema quoted."""
        entries = [s for s in self.search_path if s not in ("pg_catalog", "pg_temp")]
        return ", ".join(sql.Identifier(s).as_string(None) for s in (*entries, "pg_temp"))


READS = SessionPolicy()

_SETUP = sql.SQL(
    "SELECT pg_catalog.set_config('standard_conforming_strings', 'on', false), "
    "pg_catalog.set_config('search_path', {path}, false), "
    "pg_catalog.set_config('TimeZone', 'UTC', false), "
    "pg_catalog.set_config('DateStyle', 'ISO, YMD', false), "
    "pg_catalog.set_config('statement_timeout', {statement}, false), "
    "pg_catalog.set_config('lock_timeout', {lock}, false), "
    "CASE WHEN {read_only} THEN pg_catalog.set_config('default_transaction_read_only', 'on', false) END")


def set_up_session(conn: psycopg.Connection, policy: SessionPolicy = READS) -> None:
    """Apply ``policy`` to ``conn`` (one round trip); see :class:`SessionPolicy`."""
    conn.execute(_SETUP.format(path=sql.Literal(policy.search_path_text()),
                               statement=sql.Literal(f"{policy.statement_timeout_ms}ms"),
                               lock=sql.Literal(f"{policy.lock_timeout_ms}ms"),
                               read_only=sql.Literal(policy.read_only)))


def connect(dsn: str, autocommit: bool = True, policy: SessionPolicy = READS, what: str = "") -> psycopg.Connection:
    """Open a connection for pgrecon (``application_name=pgrecon``) set up by ``policy``; see
    :func:`open_connection`."""
    conn = open_connection(dsn, what, autocommit=autocommit, application_name=APPLICATION_NAME)
    try:
        set_up_session(conn, policy)
        if not autocommit:
            conn.commit()
    except BaseException:
        conn.close()
        raise
    return conn


def time_own_statements(conn: psycopg.Connection) -> None:
    """For a session of pgrecon's long work (index builds, VACUUM, REINDEX, and the session that
    watches them), which times each statement itself: no ``transaction_timeout`` (PostgreSQL
    17+), which, set for the role or database, would end such a statement — a transaction of its
    own — midway; and no ``idle_session_timeout``, which would end the watching session while an
    apply waits for another apply's lock."""
    conn.execute("SELECT pg_catalog.set_config('idle_session_timeout', '0', false)")
    if conn.info.server_version >= 170000:
        conn.execute("SELECT pg_catalog.set_config('transaction_timeout', '0', false)")


def fetch_value(conn: psycopg.Connection, query: Any, params: Any = None) -> Any:
    """The first column of the first row ``query`` returns (``None`` when it returns no row)."""
    row = conn.execute(query, params).fetchone()
    return row[0] if row else None
