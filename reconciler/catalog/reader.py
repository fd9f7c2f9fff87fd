"""Read live state for the objects a spec names, in a fixed number of queries.

The queries live in ``catalog/sql/*.sql``. Whatever the size of the database or of the spec,
:func:`read_catalog` runs exactly :data:`CATALOG_QUERIES` queries; each is filtered by the tables
the spec names, so its cost grows with the spec, not with the database.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import psycopg
from psycopg.rows import dict_row

from .models import (Catalog, Column, IndexDefinition, IndexKey, LiveExtension, LiveIndex,
                     LiveTable, ServerInfo)

CATALOG_QUERIES = 4
INDOPTION_DESC = 0x0001
INDOPTION_NULLS_FIRST = 0x0002


@cache
def catalog_sql(name: str) -> str:
    """The text of ``catalog/sql/<name>.sql``."""
    return resources.files(__package__).joinpath("sql", f"{name}.sql").read_text()


def read_catalog(conn: psycopg.Connection, table_keys: list[tuple[str, str]],
                 extension_names: list[str]) -> Catalog:
    """Read the server, the named tables (and their partitions), their indexes and extensions."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(catalog_sql("server"))
        server = ServerInfo(**cur.fetchone())
        cur.execute(catalog_sql("extensions"), {"names": extension_names})
        extensions = {row["name"]: LiveExtension(**row) for row in cur.fetchall()}
        cur.execute(catalog_sql("tables"), {"schemas": [s for s, _ in table_keys],
                                            "names": [t for _, t in table_keys]})
        tables = {row["oid"]: _table(row) for row in cur.fetchall()}
        cur.execute(catalog_sql("indexes"), {"tables": list(tables)})
        indexes = {row["oid"]: live_index(row, tables) for row in cur.fetchall()}
    return Catalog(server=server, tables=tables, indexes=indexes, extensions=extensions,
                   queries=CATALOG_QUERIES)


def _table(row: dict) -> LiveTable:
    columns = tuple(
        Column(name, type_, collation, not_null)
        for name, type_, collation, not_null in zip(row["column_names"] or (), row["column_types"] or (),
                                                    row["column_collations"] or (), row["column_not_null"] or ())
    )
    return LiveTable(oid=row["oid"], schema=row["schema"], name=row["name"], kind=row["kind"],
                     columns=columns, parent_oid=row["parent_oid"], partition_bound=row["partition_bound"],
                     partition_key=row["partition_key"])


def normalize_storage(options: list[str] | None) -> tuple[tuple[str, str], ...]:
    """``['fillfactor=90', 'fastupdate=off']`` -> sorted pairs with values normalised, so that
    ``off``/``false``/``no`` and ``90``/``90.0`` compare equal."""
    pairs = []
    for option in options or ():
        key, _, value = option.partition("=")
        pairs.append((key.lower(), normalize_option_value(value)))
    return tuple(sorted(pairs))


_BOOL_WORDS = {"on": "true", "true": "true", "yes": "true", "off": "false", "false": "false", "no": "false"}


def normalize_option_value(value: str) -> str:
    """One spelling for a storage-parameter value (booleans and numbers by meaning)."""
    text = str(value).strip().strip("'").lower()
    if text in _BOOL_WORDS:
        return _BOOL_WORDS[text]
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else repr(number)


def live_index(row: dict, tables: dict[int, LiveTable] | None = None) -> LiveIndex:
    """Build a :class:`LiveIndex` from one row of ``indexes.sql``."""
    key_count = row["key_count"]
    columns, exprs = row["key_columns"], row["key_expressions"]
    keys = []
    for n in range(key_count):
        option = row["key_options"][n] or 0
        keys.append(IndexKey(
            column=columns[n],
            expression=exprs[n],
            opclass=row["key_opclasses"][n],
            collation=row["key_collations"][n],
            descending=bool(option & INDOPTION_DESC),
            nulls_first=bool(option & INDOPTION_NULLS_FIRST),
        ))
    definition = IndexDefinition(
        method=row["method"],
        keys=tuple(keys),
        unique=row["is_unique"],
        include=tuple(columns[key_count:]),
        predicate=row["predicate"],
        storage=normalize_storage(row["storage"]),
        nulls_not_distinct=bool(row["nulls_not_distinct"]),
    )
    return LiveIndex(oid=row["oid"], schema=row["schema"], name=row["name"], table_oid=row["table_oid"],
                     definition=definition, valid=row["valid"], ready=row["ready"],
                     partitioned=row["partitioned"], parent_oid=row["parent_oid"],
                     constraints=tuple(row["constraints"] or ()))
