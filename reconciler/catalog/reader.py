"""Read live state for the objects a spec names, in a fixed number of queries.

The queries live in ``catalog/sql/*.sql``. Whatever the size of the database or of the spec,
:func:`read_catalog` runs exactly :data:`CATALOG_QUERIES` queries; each is filtered by the tables
the spec names, so its cost grows with the spec, not with the database. Index definitions are
read raw (attribute numbers, operator class and collation oids) and named here, which keeps the
server's work to one cheap pass over ``pg_index``.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

import psycopg

from reconciler.base.perf import paused_gc
from reconciler.catalog.models import (
    Catalog,
    Column,
    IndexDefinition,
    IndexKey,
    LiveExtension,
    LiveIndex,
    LiveTable,
    ServerInfo,
    normalize_storage,
)

CATALOG_QUERIES = 5  # server, extensions, tables, indexes, names (a test counts them on a real server)
INDEXABLE_KINDS = frozenset({"r", "p", "m"})  # table, partitioned table, materialized view
INDOPTION_DESC = 0x0001
INDOPTION_NULLS_FIRST = 0x0002


@cache
def catalog_sql(name: str) -> str:
    """The text of ``catalog/sql/<name>.sql``."""
    return resources.files(__package__).joinpath("sql", f"{name}.sql").read_text()


def _rows(conn: psycopg.Connection, name: str,
          params: dict[str, Any] | None = None) -> tuple[list[str], list[tuple[Any, ...]]]:
    with conn.cursor() as cur:
        cur.execute(catalog_sql(name), params)
        return [d.name for d in cur.description or ()], cur.fetchall()


def _dicts(columns: list[str], rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    return [dict(zip(columns, row, strict=True)) for row in rows]


def read_catalog(conn: psycopg.Connection, table_keys: list[tuple[str, str]],
                 extension_names: list[str]) -> Catalog:
    """Read the server, the named tables (and their partitions), their indexes and extensions."""
    with paused_gc():
        cols, rows = _rows(conn, "server")
        server = ServerInfo(**dict(zip(cols, rows[0], strict=True)))
        ext_cols, ext_rows = _rows(conn, "extensions", {"names": extension_names})
        extensions = {d["name"]: LiveExtension(**d) for d in _dicts(ext_cols, ext_rows)}
        all_dicts = read_tables(conn, table_keys)
        table_dicts = [d for d in all_dicts if d["kind"] in INDEXABLE_KINDS]
        table_rows = [tuple(d.values()) for d in all_dicts]
        tables = {d["oid"]: live_table(d) for d in table_dicts}
        others = {f"{d['schema']}.{d['name']}": d["kind"] for d in all_dicts if d["kind"] not in INDEXABLE_KINDS}
        indexes, index_rows = read_indexes(conn, table_dicts)
    return Catalog(server=server, tables=tables, indexes=indexes, extensions=extensions,
                   state_rows=(ext_rows, table_rows, index_rows), other_relations=others)


def read_tables(conn: psycopg.Connection, table_keys: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Rows of ``tables.sql`` for ``(schema, table)`` names (and the partitions below them)."""
    columns, rows = _rows(conn, "tables", {"schemas": [s for s, _ in table_keys], "names": [t for _, t in table_keys]})
    return _dicts(columns, rows)


def read_indexes(conn: psycopg.Connection,
                 table_dicts: list[dict[str, Any]]) -> tuple[dict[int, LiveIndex], list[tuple[Any, ...]]]:
    """The indexes of the tables in ``table_dicts`` (rows of ``tables.sql``), in two queries;
    also returns the raw index rows (for the fingerprint)."""
    index_cols, index_rows = _rows(conn, "indexes", {"tables": [d["oid"] for d in table_dicts]})
    if index_cols != INDEX_COLUMNS:
        raise RuntimeError(f"indexes.sql returns {index_cols}, expected {INDEX_COLUMNS}")
    names = IndexNames.read(conn, index_rows)
    attributes = {d["oid"]: dict(zip(d["attnums"] or (), zip(d["names"] or (), d["collation_oids"] or (), strict=True),
                                                      strict=True))
                  for d in table_dicts}
    indexes = {row[0]: live_index(row, names, attributes.get(row[3], {})) for row in index_rows}
    return indexes, index_rows


def live_table(row: dict[str, Any]) -> LiveTable:
    columns = tuple(Column(name, type_, collation, not_null, target)
                    for name, type_, collation, not_null, target in zip(
                        row["names"] or (), row["types"] or (), row["collations"] or (), row["not_null"] or (),
                        row["stat_targets"] or (), strict=True))
    return LiveTable(oid=row["oid"], schema=row["schema"], name=row["name"], kind=row["kind"],
                     columns=columns, parent_oid=row["parent_oid"], partition_bound=row["partition_bound"],
                     partition_key=row["partition_key"],
                     partition_columns=tuple(row["partition_columns"] or ()), detach_pending=row["detach_pending"],
                     storage=normalize_storage((row["storage"] or [])
                                               + [f"toast.{o}" for o in row["toast_storage"] or []]),
                     has_toast=row["has_toast"])


class IndexNames:
    """Names of the operator classes and collations used by a set of indexes (one query)."""

    def __init__(self, opclasses: dict[int, str | None], collations: dict[int, str]):
        self.opclasses = opclasses  # None for its type's default; schema-qualified when not visible
        self.collations = collations

    @classmethod
    def read(cls, conn: psycopg.Connection, index_rows: list[tuple[Any, ...]]) -> IndexNames:
        opclass_oids = {oid for row in index_rows for oid in row[_OPCLASSES] or ()}
        collation_oids = {oid for row in index_rows for oid in row[_COLLATIONS] or () if oid}
        columns, rows = _rows(conn, "names", {"opclasses": sorted(opclass_oids), "collations": sorted(collation_oids)})
        opclasses, collations = {}, {}
        for kind, oid, name, schema, is_default, visible in rows:
            if kind == "opclass":
                opclasses[oid] = None if is_default else (name if visible else f"{schema}.{name}")
            else:
                collations[oid] = name
        return cls(opclasses, collations)


_KEYS: dict[tuple[Any, ...], IndexKey] = {}


def shared_key(column: str | None, expression: str | None, opclass: str | None, collation: str | None,
               descending: bool, nulls_first: bool, opclass_params: tuple[tuple[str, str], ...] = ()) -> IndexKey:
    """An :class:`IndexKey`, one object for equal keys (there are few distinct ones)."""
    cache_key = (column, expression, opclass, collation, descending, nulls_first, opclass_params)
    key = _KEYS.get(cache_key)
    if key is None:
        key = _KEYS[cache_key] = IndexKey(column, expression, opclass, collation, descending, nulls_first,
                                          opclass_params)
    return key


INDEX_COLUMNS = ["oid", "schema", "name", "table_oid", "method", "is_unique", "nulls_not_distinct", "valid",
                 "ready", "partitioned", "key_count", "attnums", "opclasses", "collations", "options",
                 "key_texts", "opclass_params", "predicate", "storage", "parent_oid", "constraints"]
_OPCLASSES, _COLLATIONS = INDEX_COLUMNS.index("opclasses"), INDEX_COLUMNS.index("collations")


def live_index(row: tuple[Any, ...], names: IndexNames, attributes: dict[int, tuple[str, int]]) -> LiveIndex:
    """Build a :class:`LiveIndex` from one row of ``indexes.sql`` (columns :data:`INDEX_COLUMNS`).

    ``attributes`` maps the table's attribute numbers to (name, collation oid). A column key's
    collation is ``None`` when it is the column's own; an operator class is ``None`` when it is
    the default for the key's type.
    """
    (oid, schema, name, table_oid, method, is_unique, nulls_not_distinct, valid, ready, partitioned, key_count,
     attnums, opclasses, collations, options, texts, params, predicate, storage, parent_oid, constraints) = row
    keys = []
    for n in range(key_count):
        attnum = attnums[n]
        collation_oid = collations[n]
        if attnum:
            column, column_collation = attributes.get(attnum, (f"#{attnum}", 0))
            expression = None
            collation = None if collation_oid == column_collation else names.collations.get(collation_oid)
        else:
            column, expression = None, texts[n]
            collation = names.collations.get(collation_oid) if collation_oid else None
        option = options[n] or 0
        opclass_params = normalize_storage(params[n].split(",")) if params and params[n] else ()
        keys.append(shared_key(column, expression, names.opclasses.get(opclasses[n]), collation,
                               bool(option & INDOPTION_DESC), bool(option & INDOPTION_NULLS_FIRST), opclass_params))
    include = tuple(attributes.get(a, (f"#{a}", 0))[0] if a else texts[n]
                    for n, a in enumerate(attnums[key_count:], start=key_count))
    definition = IndexDefinition(method, tuple(keys), is_unique, include, predicate,
                                 normalize_storage(storage) if storage else (), bool(nulls_not_distinct))
    return LiveIndex(oid, schema, name, table_oid, definition, valid, ready, partitioned, parent_oid,
                     tuple(constraints or ()), tuple(storage or ()))


def database_now(conn: psycopg.Connection) -> datetime:
    """The database's ``now()`` (aware): "now" for every time-based decision unless pinned."""
    row = conn.execute("SELECT pg_catalog.now()").fetchone()
    assert row is not None
    value: datetime = row[0]
    return value
