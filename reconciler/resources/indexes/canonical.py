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

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import psycopg

from reconciler.catalog.models import IndexDefinition, LiveTable
from reconciler.catalog.reader import read_indexes, read_tables
from reconciler.render import render_statement
from reconciler.resources.extensions.spec import ExtensionSpec
from reconciler.resources.indexes.spec import IndexSpec

TABLES_PER_BATCH = 400  # keeps the locks one transaction takes well under max_locks_per_transaction


IndexRef = tuple[str, str, int]
"""A declared index by its place: ``("public.t", "indexes", 2)`` (below ``tables``)."""


@dataclass(frozen=True)
class CanonicalRequest:
    """Build ``index`` on a copy of ``table``; ``ref`` identifies the answer."""

    ref: IndexRef
    table: LiveTable
    index: IndexSpec


@dataclass(frozen=True)
class CanonicalResult:
    definition: IndexDefinition | None
    error: str | None = None


def canonicalize(conn: psycopg.Connection, requests: list[CanonicalRequest], extensions: Sequence[ExtensionSpec] = (),
                 lock_timeout_ms: int = 5000) -> dict[IndexRef, CanonicalResult]:
    """The server's canonical definition of each requested index, or the server's error.

    ``extensions`` not yet installed are created inside the same rolled-back transaction, so
    an index that needs one (``gin_trgm_ops``) can be checked before the extension exists.
    Copying a table's columns needs its ACCESS SHARE lock; a session holding ACCESS EXCLUSIVE
    makes the copy wait at most ``lock_timeout_ms``, then that table's indexes are reported.
    """
    results: dict[IndexRef, CanonicalResult] = {}
    by_table: dict[int, list[CanonicalRequest]] = {}
    for request in requests:
        by_table.setdefault(request.table.oid, []).append(request)
    table_oids = list(by_table)
    for start in range(0, len(table_oids), TABLES_PER_BATCH):
        batch = {oid: by_table[oid] for oid in table_oids[start:start + TABLES_PER_BATCH]}
        results.update(_canonicalize_batch(conn, batch, extensions, lock_timeout_ms))
    return results


def _statements(batch: dict[int, list[CanonicalRequest]]) -> Iterator[tuple[CanonicalRequest | None, str]]:
    """(request or None, statement) pairs: a temp copy per table, then its indexes."""
    for t, requests in enumerate(batch.values()):
        copy = f"pgrecon_canon_{t}"
        table = requests[0].table
        yield None, render_statement("indexes/create_temp_copy", name=("pg_temp", copy),
                                     source=(table.schema, table.name))
        for i, request in enumerate(requests):
            yield request, render_statement("indexes/create_index", index=request.index, name=f"{copy}_{i}",
                                            table=("pg_temp", copy), concurrently=False, only=False)


def _canonicalize_batch(conn: psycopg.Connection, batch: dict[int, list[CanonicalRequest]],
                        extensions: Sequence[ExtensionSpec], lock_timeout_ms: int) -> dict[IndexRef, CanonicalResult]:
    prelude = [render_statement("extensions/create_extension", name=e.name, schema=e.schema_, version=e.version)
               for e in extensions]
    statements: list[tuple[CanonicalRequest | None, str]] = list(_statements(batch))
    names: dict[str, IndexRef] = {}
    copies: dict[IndexRef, tuple[str, str]] = {}  # request -> (temp copy name, real table name)
    for t, requests in enumerate(batch.values()):
        for i, request in enumerate(requests):
            names[f"pgrecon_canon_{t}_{i}"] = request.ref
            copies[request.ref] = (f"pgrecon_canon_{t}", request.table.name)
    results: dict[IndexRef, CanonicalResult] = {}
    with conn.transaction(force_rollback=True):
        conn.execute("SELECT pg_catalog.set_config('statement_timeout', '5min', true), "
                     "pg_catalog.set_config('lock_timeout', %s, true)", (f"{lock_timeout_ms}ms",))
        for stmt in prelude:
            _try(conn, stmt)
        try:
            with conn.transaction():
                conn.execute(";\n".join(stmt for _, stmt in statements))
        except psycopg.Error:
            # Something was refused: run one statement at a time to name each failure.
            for maybe, stmt in statements:
                error = _try(conn, stmt)
                if error and maybe is not None:
                    copy, real = copies[maybe.ref]
                    results[maybe.ref] = CanonicalResult(None, error.replace(copy, real))
        temp_schema = conn.execute("SELECT nspname::text FROM pg_catalog.pg_namespace "
                                   "WHERE oid = pg_catalog.pg_my_temp_schema()").fetchone()
        if temp_schema:
            copies_read = read_tables(conn, [(temp_schema[0], f"pgrecon_canon_{t}") for t in range(len(batch))])
            indexes, _ = read_indexes(conn, copies_read)
            for index in indexes.values():
                ref = names.get(index.name)
                if ref is not None:
                    results[ref] = CanonicalResult(index.definition)
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
