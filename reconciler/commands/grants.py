"""``pgrecon grants``: the privileges a spec needs, as GRANT statements for a role that is not a
superuser.

pgrecon does not need to be a superuser. Each part of a spec needs its own privileges: indexes,
partitions, storage parameters and statistics targets are changed by a table's owner (pgrecon's
role becomes a member of the owning role); its schema ``pgrecon`` (apply history, canonical-form
cache) is created for it, owned by it; settings need ``ALTER SYSTEM`` on each parameter
(PostgreSQL 15+) and ``pg_reload_conf()``; reading every setting's source needs
``pg_read_all_settings``; ``advise`` and the blocking-session messages need
``pg_read_all_stats``. Extensions that are not trusted are created by a superuser once. The
statements are rendered by the output layer (``templates/sql/grants.sql.j2``); run them as a
superuser.

>>> needs(conn, spec, "pgrecon").owners                    # doctest: +SKIP
{'app_owner': ['public.agents', 'public.coalitions']}
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg

from reconciler.catalog.reader import catalog_sql
from reconciler.connect.session import fetch_value
from reconciler.resources.document import Spec
from reconciler.resources.settings.desired import desired_settings
from reconciler.spec.types import split_table_key


@dataclass
class Needs:
    """What a spec needs on one database, by privilege."""

    role: str
    database: str
    major: int
    owners: dict[str, list[str]] = field(default_factory=dict)      # owning role -> its tables
    superuser_owned: dict[str, list[str]] = field(default_factory=dict)  # the same, owned by a superuser
    missing_tables: list[str] = field(default_factory=list)
    partitioned_schemas: list[str] = field(default_factory=list)   # where new partitions are created
    trusted_extensions: list[str] = field(default_factory=list)     # to create: CREATE on the database suffices
    superuser_extensions: list[str] = field(default_factory=list)   # to create: a superuser must
    settings: list[tuple[str, ...]] = field(default_factory=list)    # ALTER SYSTEM ON PARAMETER
    patroni: bool = False   # settings go through Patroni: no ALTER SYSTEM grant
    role_settings: list[str] = field(default_factory=list)         # roles whose settings the spec sets


def needs(conn: psycopg.Connection, spec: Spec, role: str) -> Needs:
    """What ``spec`` needs of the database behind ``conn`` for ``role``."""
    keys = [split_table_key(k) for k in spec.tables]
    rows = conn.execute(catalog_sql("privileges"), {"schemas": [s for s, _ in keys], "names": [t for _, t in keys],
                                                    "extensions": [e.name for e in spec.extensions]}).fetchall()
    out = Needs(role, str(fetch_value(conn, "SELECT current_database()")),
                int(fetch_value(conn, "SHOW server_version_num")) // 10000)
    found = set()
    for kind, name, owner, installed, trusted in rows:
        if kind == "table":
            found.add(name)
            if owner != role:
                # membership in a superuser's role would let the role SET ROLE to a superuser
                (out.superuser_owned if installed else out.owners).setdefault(owner, []).append(name)
        elif not installed:
            (out.trusted_extensions if trusted else out.superuser_extensions).append(name)
    out.missing_tables = [k for k in spec.tables if k not in found]
    out.partitioned_schemas = sorted({split_table_key(k)[0] for k, t in spec.tables.items() if t.partitioning})
    out.patroni = spec.target.patroni is not None
    out.role_settings = sorted({e.role for e in spec.role_settings if e.role})
    out.settings = [tuple(name.split(".")) for name in sorted(desired_settings(spec, out.major))] \
        if spec.postgres is not None else []
    return out
