"""The live role and database settings (one query), and the definitions of the settings involved
(from ``pg_settings``, which says each one's type, unit and context)."""

from __future__ import annotations

from functools import cache
from importlib import resources

import psycopg

from reconciler.catalog.settings import read_settings
from reconciler.resources.role_settings.diff import LiveRoleSettings


@cache
def _sql() -> str:
    return resources.files(__package__).joinpath("sql", "role_settings.sql").read_text()


def read_role_settings(conn: psycopg.Connection, roles: list[str], databases: list[str],
                       names: list[str]) -> LiveRoleSettings:
    """The live state for the roles, databases and setting names a spec declares."""
    rows = conn.execute(_sql(), {"roles": roles, "databases": databases}).fetchall()
    values: dict[tuple[str, str], dict[str, tuple[str, str]]] = {}
    here: set[tuple[str, str]] = set()
    found_roles, found_databases = set(), set()
    for kind, role, database, config, applies in rows:
        if kind == "role":
            found_roles.add(role)
        elif kind == "database":
            found_databases.add(database)
        else:
            scope = (role, database)
            if applies:
                here.add(scope)
            for item in config or ():
                name, _, text = str(item).partition("=")
                values.setdefault(scope, {})[name.lower()] = (name, text)
    wanted = sorted({n.lower() for n in names} | {n for v in values.values() for n in v})
    definitions = {name: s.definition for name, s in read_settings(conn, wanted).values.items()}
    known = frozenset(r[0] for r in conn.execute("SELECT name::text FROM pg_catalog.pg_settings"))
    return LiveRoleSettings(values, frozenset(here), frozenset(found_roles), frozenset(found_databases),
                            definitions, known)
