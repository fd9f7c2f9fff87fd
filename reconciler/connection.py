"""Connections: where the DSN comes from, and how it is shown (never with its password).

Order of precedence: ``--dsn``, then the spec's ``target.dsn``, then libpq's ``PG*`` variables.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from .errors import ConnectionFailed

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


_SECRET_PATTERNS = [
    re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE),
    re.compile(r"(postgres(?:ql)?://[^:/@\s]*:)([^@\s]*)(@)", re.IGNORECASE),
]


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` with passwords in DSNs, and any of ``secrets``, replaced by ``***``."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + "***" + (m.group(3) if m.re.groups >= 3 else ""), text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def resolve_dsn(flag: str | None, spec_dsn: str | None) -> str:
    """The DSN to use: the flag, else the spec's, else empty (libpq reads ``PG*`` variables)."""
    return flag or spec_dsn or ""


def open_connection(dsn: str, what: str = "", **options: Any) -> psycopg.Connection:
    """``psycopg.connect(dsn, **options)`` with a 10 s connect timeout; a failure becomes a
    :class:`ConnectionFailed` that names the target (``what``, then ``user@host:port/db``) and
    never its password."""
    try:
        return psycopg.connect(dsn, connect_timeout=10, **options)
    except psycopg.Error as exc:
        reason = redact(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__, (dsn,))
        target = f"{what} {describe_dsn(dsn)}" if what else describe_dsn(dsn)
        raise ConnectionFailed(f"cannot connect to {target}: {reason}") from None


def connect(dsn: str, autocommit: bool = True) -> psycopg.Connection:
    """Open a connection for pgrecon (``application_name=pgrecon``, UTC, ISO dates); see
    :func:`open_connection`."""
    conn = open_connection(dsn, autocommit=autocommit, application_name=APPLICATION_NAME)
    # One rendering of times and time zones for every pgrecon session: partition bounds and
    # constants in index predicates read back the same whatever the server's defaults.
    conn.execute("SET TimeZone = 'UTC'")
    conn.execute("SET DateStyle = 'ISO, YMD'")
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
