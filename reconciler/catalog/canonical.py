"""PostgreSQL as the normaliser: the canonical form of declared indexes.

The server rewrites what people write (``status = 'active'`` becomes ``(status = 'active'::text)``,
``IN (…)`` becomes ``= ANY (ARRAY[…])``, default operator classes are filled in). To compare a
declared index with a live one exactly, pgrecon builds the declared index on an empty temporary
copy of its table's columns inside a transaction that is rolled back, and reads it back with the
same catalog query that reads live indexes. Nothing is left behind; the real table is not touched.

Declared indexes the server refuses (unknown column, missing operator class, a mutable function)
come back as errors with the server's message, so plan fails before apply would.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg.rows import dict_row

from ..render import render_statement
from ..spec.models import ExtensionSpec, IndexSpec
from .models import IndexDefinition, LiveTable
from .reader import catalog_sql, live_index

TABLES_PER_BATCH = 400  # keeps the locks one transaction takes well under max_locks_per_transaction


@dataclass(frozen=True)
class CanonicalRequest:
    """Build ``index`` on a copy of ``table``; ``ref`` identifies the answer."""

    ref: object
    table: LiveTable
    index: IndexSpec


@dataclass(frozen=True)
class CanonicalResult:
    definition: IndexDefinition | None
    error: str | None = None


def canonicalize(conn: psycopg.Connection, requests: list[CanonicalRequest],
                 extensions: list[ExtensionSpec] = ()) -> dict[object, CanonicalResult]:
    """The server's canonical definition of each requested index, or the server's error.

    ``extensions`` not yet installed are created inside the same rolled-back transaction, so
    an index that needs one (``gin_trgm_ops``) can be checked before the extension exists.
    """
    results: dict[object, CanonicalResult] = {}
    by_table: dict[int, list[CanonicalRequest]] = {}
    for request in requests:
        by_table.setdefault(request.table.oid, []).append(request)
    table_oids = list(by_table)
    for start in range(0, len(table_oids), TABLES_PER_BATCH):
        batch = {oid: by_table[oid] for oid in table_oids[start:start + TABLES_PER_BATCH]}
        results.update(_canonicalize_batch(conn, batch, extensions))
    return results


def _statements(batch: dict[int, list[CanonicalRequest]]):
    """(request or None, statement) pairs: a temp copy per table, then its indexes."""
    for t, (oid, requests) in enumerate(batch.items()):
        copy = f"pgrecon_canon_{t}"
        table = requests[0].table
        yield None, render_statement("create_temp_copy", name=("pg_temp", copy), source=(table.schema, table.name))
        for i, request in enumerate(requests):
            yield request, render_statement("create_index", index=request.index, name=f"{copy}_{i}",
                                            table=("pg_temp", copy), concurrently=False, only=False)


def _canonicalize_batch(conn, batch, extensions) -> dict[object, CanonicalResult]:
    prelude = [render_statement("create_extension", name=e.name, schema=e.schema_, version=e.version)
               for e in extensions]
    statements = list(_statements(batch))
    names: dict[str, object] = {}
    for t, (oid, requests) in enumerate(batch.items()):
        for i, request in enumerate(requests):
            names[f"pgrecon_canon_{t}_{i}"] = request.ref
    results: dict[object, CanonicalResult] = {}
    with conn.transaction(force_rollback=True):
        conn.execute("SET LOCAL statement_timeout = '5min'")
        for stmt in prelude:
            _try(conn, stmt)
        try:
            with conn.transaction():
                conn.execute(";\n".join(stmt for _, stmt in statements))
        except psycopg.Error:
            # Something was refused: run one statement at a time to name each failure.
            for request, stmt in statements:
                error = _try(conn, stmt)
                if error and request is not None:
                    results[request.ref] = CanonicalResult(None, error)
        with conn.cursor(row_factory=dict_row) as cur:
            cur.execute("SELECT c.oid FROM pg_catalog.pg_class c "
                        "WHERE c.relnamespace = pg_catalog.pg_my_temp_schema() "
                        "AND c.relkind = 'r' AND c.relname LIKE 'pgrecon\\_canon\\_%'")
            temp_tables = [row["oid"] for row in cur.fetchall()]
            cur.execute(catalog_sql("indexes"), {"tables": temp_tables})
            for row in cur.fetchall():
                ref = names.get(row["name"])
                if ref is not None:
                    results[ref] = CanonicalResult(live_index(row).definition)
    return results


def _try(conn: psycopg.Connection, statement: str) -> str | None:
    """Run ``statement`` in a savepoint; the server's error message if it fails."""
    try:
        with conn.transaction():
            conn.execute(statement)
    except psycopg.Error as exc:
        diag = exc.diag
        message = diag.message_primary or str(exc).strip()
        if diag.message_hint:
            message += f" (hint: {diag.message_hint})"
        return message
    return None
