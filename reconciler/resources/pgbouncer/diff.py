"""Declared PgBouncer configuration versus a running PgBouncer: pure functions, no I/O.

``SHOW CONFIG`` and ``SHOW DATABASES`` are compared with what the spec renders. Differences
become one change: write pgbouncer.ini and RELOAD. Settings RELOAD cannot change are marked
``restart-required``; when the file already holds them, they are pending, not changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class LivePgbouncer:
    version: str                                  # e.g. "1.18.0"
    config: dict[str, tuple[str | None, bool]]    # key -> (value, changeable by RELOAD)
    databases: dict[str, dict[str, Any]]                    # SHOW DATABASES rows by name


DATABASE_FIELDS = {"host": "host", "port": "port", "dbname": "database", "user": "force_user",
                   "pool_size": "pool_size", "min_pool_size": "min_pool_size", "reserve_pool": "reserve_pool",
                   "pool_mode": "pool_mode", "max_db_connections": "max_connections"}


@dataclass
class PgbouncerDiff:
    settings: dict[str, tuple[str, str]] = field(default_factory=dict)    # key -> (live, desired)
    restart: list[str] = field(default_factory=list)                      # keys RELOAD cannot change
    pending: list[str] = field(default_factory=list)                      # written, waiting for a restart
    databases: dict[str, str] = field(default_factory=dict)               # name -> what differs

    @property
    def empty(self) -> bool:
        return not (self.settings or self.databases)


def diff_pgbouncer(desired: list[tuple[str, str]], databases: dict[str, dict[str, Any]], live: LivePgbouncer,
                   on_disk: dict[str, str] | None = None) -> PgbouncerDiff:
    """``desired``: [pgbouncer] pairs as rendered; ``databases``: name -> declared parameters;
    ``on_disk``: the [pgbouncer] pairs of the file the running PgBouncer reads (to see pending ones)."""
    out = PgbouncerDiff()
    for key, value in desired:
        current, changeable = live.config.get(key, (None, True))
        if (current or "") == value:
            continue
        if not changeable and on_disk is not None and on_disk.get(key) == value:
            out.pending.append(key)
            continue
        out.settings[key] = (current if current is not None else "(unset)", value)
        if not changeable:
            out.restart.append(key)
    for name, params in databases.items():
        row = live.databases.get(name)
        if row is None:
            out.databases[name] = "missing"
            continue
        diffs = [f"{key} {row.get(column)} -> {params[key]}" for key, column in DATABASE_FIELDS.items()
                 if key in params and column in row and str(row.get(column)) != str(params[key])]
        if diffs:
            out.databases[name] = ", ".join(diffs)
    return out


def read_ini_pairs(text: str) -> dict[str, str]:
    """The ``[pgbouncer]`` section of an ini file as key -> value."""
    pairs, section = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in ";#":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip().lower()
        elif section == "pgbouncer" and "=" in line:
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs
