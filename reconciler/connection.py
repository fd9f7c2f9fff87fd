"""Connections: where the DSN comes from, and how it is shown (never with its password).

Order of precedence: ``--dsn``, then the spec's ``target.dsn``, then libpq's ``PG*`` variables.
"""

from __future__ import annotations

import re

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
    host = parts.get("host") or "(PGHOST or local socket)"
    port = parts.get("port") or ""
    user = parts.get("user") or ""
    db = parts.get("dbname") or ""
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


def connect(dsn: str, autocommit: bool = True) -> psycopg.Connection:
    """Open a connection for pgrecon (``application_name=pgrecon``); a failure becomes a
    :class:`ConnectionFailed` whose message names the target but never its password."""
    try:
        conn = psycopg.connect(dsn, autocommit=autocommit, application_name=APPLICATION_NAME,
                               connect_timeout=10)
    except psycopg.Error as exc:
        reason = redact(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__, (dsn,))
        raise ConnectionFailed(f"cannot connect to {describe_dsn(dsn)}: {reason}") from None
    # One rendering of times and time zones for every pgrecon session: partition bounds and
    # constants in index predicates read back the same whatever the server's defaults.
    conn.execute("SET TimeZone = 'UTC'")
    conn.execute("SET DateStyle = 'ISO, YMD'")
    return conn
