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
from dataclasses import dataclass, field

import psycopg
from psycopg.types.json import Jsonb

from reconciler.catalog.models import Catalog, IndexDefinition, LiveTable
from reconciler.catalog.own_schema import check_own_schema
from reconciler.render import render, render_statement
from reconciler.resources.indexes.spec import IndexSpec

TABLE = "pgrecon.canonical_cache"
FORMAT = 2  # 2: operator classes named by visibility, with their parameters; statements as written


def context_key(catalog: Catalog) -> str:
    """The part of every key that does not depend on the table or the index."""
    material = [FORMAT, catalog.server.version_num, catalog.server.search_path,
                sorted([name, e.installed_version] for name, e in catalog.extensions.items() if e.installed_version)]
    return json.dumps(material)


def cache_key(context: str, table: LiveTable, index: IndexSpec) -> str:
    """The hash of everything the canonical form of ``index`` on ``table`` depends on."""
    statement = render_statement("indexes/create_index", index=index, name="pgrecon_key",
                                 table=("pg_temp", "pgrecon_key"), concurrently=False, only=False)
    columns = json.dumps([[c.name, c.type, c.collation] for c in table.columns])
    return hashlib.sha256("\n".join((context, columns, statement)).encode()).hexdigest()


@dataclass
class CacheRead:
    """The cached definitions found, and the entries ignored because they do not parse."""

    found: dict[str, IndexDefinition] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)


def read_cached(conn: psycopg.Connection, keys: list[str], schema_owner: str | None = None) -> CacheRead | None:
    """The cached definitions among ``keys``; ``None`` when this database has no cache. The cache
    is read only when nobody else can write it (see :mod:`.own_schema`); an entry that does not
    parse is ignored (the server is asked again) and named in ``ignored``."""
    if not check_own_schema(conn, schema_owner).has("canonical_cache"):
        return None
    out = CacheRead()
    if not keys:
        return out
    rows = conn.execute("SELECT key, definition FROM pgrecon.canonical_cache WHERE key = ANY(%s)", (keys,)).fetchall()
    for key, data in rows:
        try:
            out.found[key] = IndexDefinition.from_json(data if isinstance(data, dict) else json.loads(data))
        except Exception:  # noqa: BLE001 - any malformed entry is ignored, never trusted nor fatal
            out.ignored.append(str(key)[:16])
    return out


def store(conn: psycopg.Connection, entries: dict[str, IndexDefinition], create: bool = True,
          schema_owner: str | None = None) -> int:
    """Add ``entries``, creating the cache first when ``create`` (apply) — else the caller knows
    that it exists (plan); either way only into a cache nobody else can steer. Returns how many
    were new."""
    if not entries:
        return 0
    with conn.transaction():
        if create:
            conn.execute(render("indexes/canonical_cache_schema.sql.j2"))
        if not check_own_schema(conn, schema_owner).has("canonical_cache"):
            return 0
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO pgrecon.canonical_cache (key, definition) VALUES (%s, %s) "
                            "ON CONFLICT (key) DO NOTHING",
                            [(key, Jsonb(definition.to_json())) for key, definition in entries.items()])
            return cur.rowcount


def remember_canonical_forms(conn: psycopg.Connection, entries: dict[str, IndexDefinition], create: bool,
                             schema_owner: str | None = None) -> None:
    """:func:`store`, as a courtesy: without the privilege to write the cache (or on a session
    that may not write), nothing is kept and nothing fails."""
    with contextlib.suppress(psycopg.errors.InsufficientPrivilege, psycopg.errors.ReadOnlySqlTransaction):
        store(conn, entries, create=create, schema_owner=schema_owner)
