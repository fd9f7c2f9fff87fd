"""A memo of the server's canonical index definitions, in the target database.

Canonicalising a declared index (see :mod:`.canonical`) costs DDL on a temporary table — about
3 ms each once the catalog holds tens of thousands of relations. The result depends only on the
statement, the table's columns (names, types, collations), the search_path, the installed
extensions and the server version; an entry's key is a hash of all of them, so an entry is reused
only when the server would answer the same. ``apply`` creates the cache and stores the forms its
plan computed; a ``plan`` on a writable session adds the forms it computed to a cache that exists
(it never creates one). The next plans, and plans on standbys that replicate it, find them with
one query.
"""

from __future__ import annotations

import contextlib
import hashlib
import json

import psycopg
from psycopg.types.json import Jsonb

from ..connection import fetch_value
from ..render import render, render_statement
from ..spec.models import IndexSpec
from .models import Catalog, IndexDefinition, LiveTable

TABLE = "pgrecon.canonical_cache"
FORMAT = 2  # 2: operator classes named by visibility, with their parameters; statements as written


def context_key(catalog: Catalog) -> str:
    """The part of every key that does not depend on the table or the index."""
    material = [FORMAT, catalog.server.version_num, catalog.server.search_path,
                sorted([name, e.installed_version] for name, e in catalog.extensions.items() if e.installed_version)]
    return json.dumps(material)


def cache_key(context: str, table: LiveTable, index: IndexSpec) -> str:
    """The hash of everything the canonical form of ``index`` on ``table`` depends on."""
    statement = render_statement("create_index", index=index, name="pgrecon_key", table=("pg_temp", "pgrecon_key"),
                                 concurrently=False, only=False)
    columns = json.dumps([[c.name, c.type, c.collation] for c in table.columns])
    return hashlib.sha256("\n".join((context, columns, statement)).encode()).hexdigest()


def read_cached(conn: psycopg.Connection, keys: list[str]) -> dict[str, IndexDefinition] | None:
    """The cached definitions among ``keys``; ``None`` when this database has no cache."""
    if not fetch_value(conn, "SELECT to_regclass(%s) IS NOT NULL", (TABLE,)):
        return None
    if not keys:
        return {}
    rows = conn.execute("SELECT key, definition FROM pgrecon.canonical_cache WHERE key = ANY(%s)", (keys,)).fetchall()
    return {key: IndexDefinition.from_json(data if isinstance(data, dict) else json.loads(data)) for key, data in rows}


def store(conn: psycopg.Connection, entries: dict[str, IndexDefinition], create: bool = True) -> int:
    """Add ``entries``, creating the cache first when ``create`` (apply) — else the caller knows
    that it exists (plan). Returns how many were new."""
    if not entries:
        return 0
    with conn.transaction():
        if create:
            conn.execute(render("sql/canonical_cache_schema.sql.j2"))
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO pgrecon.canonical_cache (key, definition) VALUES (%s, %s) "
                            "ON CONFLICT (key) DO NOTHING",
                            [(key, Jsonb(definition.to_json())) for key, definition in entries.items()])
            return cur.rowcount


def remember_canonical_forms(conn: psycopg.Connection, entries: dict[str, IndexDefinition], create: bool) -> None:
    """:func:`store`, as a courtesy: without the privilege to write the cache (or on a session
    that may not write), nothing is kept and nothing fails."""
    with contextlib.suppress(psycopg.errors.InsufficientPrivilege, psycopg.errors.ReadOnlySqlTransaction):
        store(conn, entries, create=create)
