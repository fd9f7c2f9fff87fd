"""Typed, frozen snapshots of live database state.

:class:`IndexDefinition` is the one shape in which every index is compared: a live index read from
the catalog, and a declared index in the canonical form the server gives it. Two indexes are the
same when their definitions are equal, whatever their names.
"""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from reconciler.base.units import parse_bool
from reconciler.facts.settings import SettingDef


@dataclass(frozen=True, slots=True)
class IndexKey:
    """One key column of an index, normalised by the server.

    ``opclass`` is ``None`` when it is the default for the column's type and method, unqualified
    when the search_path finds it, ``schema.name`` otherwise; ``opclass_params`` are its
    parameters (``siglen``), normalised like storage parameters; ``collation`` is ``None`` for a
    column key that uses the column's own collation.
    """

    column: str | None
    expression: str | None
    opclass: str | None = None
    collation: str | None = None
    descending: bool = False
    nulls_first: bool = False
    opclass_params: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        """The key as SQL-ish text for messages (not for statements)."""
        text = self.column if self.column is not None else f"({self.expression})"
        if self.collation:
            text += f' COLLATE "{self.collation}"'
        if self.opclass:
            text += f" {self.opclass}"
        if self.opclass_params:
            text += f" ({', '.join(f'{k}={v}' for k, v in self.opclass_params)})"
        if self.descending:
            text += " DESC"
        if self.nulls_first != self.descending:
            text += " NULLS FIRST" if self.nulls_first else " NULLS LAST"
        return text


@dataclass(frozen=True, slots=True)
class IndexDefinition:
    """Everything that defines an index except its name and its table."""

    method: str
    keys: tuple[IndexKey, ...]
    unique: bool = False
    include: tuple[str, ...] = ()
    predicate: str | None = None
    storage: tuple[tuple[str, str], ...] = ()
    nulls_not_distinct: bool = False

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form (for the canonical-form cache)."""
        return {"method": self.method, "unique": self.unique, "include": list(self.include),
                "predicate": self.predicate, "storage": [list(p) for p in self.storage],
                "nulls_not_distinct": self.nulls_not_distinct,
                "keys": [[k.column, k.expression, k.opclass, k.collation, k.descending, k.nulls_first,
                          [list(p) for p in k.opclass_params]] for k in self.keys]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IndexDefinition:
        keys = tuple(IndexKey(column=k[0], expression=k[1], opclass=k[2], collation=k[3], descending=k[4],
                              nulls_first=k[5], opclass_params=tuple((str(a), str(b)) for a, b in k[6]))
                     for k in data["keys"])
        return cls(method=data["method"], keys=keys, unique=data["unique"],
                   include=tuple(data["include"]), predicate=data["predicate"],
                   storage=tuple(tuple(p) for p in data["storage"]),
                   nulls_not_distinct=data["nulls_not_distinct"])

    def differences(self, other: IndexDefinition) -> list[str]:
        """What differs from ``other``, one short phrase per field (``self`` is the live side)."""
        out = []
        if self.method != other.method:
            out.append(f"method {self.method} -> {other.method}")
        if self.keys != other.keys:
            out.append(f"keys ({', '.join(k.describe() for k in self.keys)}) -> "
                       f"({', '.join(k.describe() for k in other.keys)})")
        if self.unique != other.unique:
            out.append(f"unique {self.unique} -> {other.unique}")
        if self.include != other.include:
            out.append(f"include ({', '.join(self.include)}) -> ({', '.join(other.include)})")
        if self.predicate != other.predicate:
            out.append(f"where {self.predicate or '(none)'} -> {other.predicate or '(none)'}")
        if self.storage != other.storage:
            out.append(f"with {dict(self.storage) or '{}'} -> {dict(other.storage) or '{}'}")
        if self.nulls_not_distinct != other.nulls_not_distinct:
            out.append(f"nulls_not_distinct {self.nulls_not_distinct} -> {other.nulls_not_distinct}")
        return out


@dataclass(frozen=True, slots=True)
class LiveIndex:
    """An index as the catalog shows it."""

    oid: int
    schema: str
    name: str
    table_oid: int
    definition: IndexDefinition
    valid: bool
    ready: bool
    partitioned: bool
    parent_oid: int | None = None
    constraints: tuple[str, ...] = ()
    options: tuple[str, ...] = ()  # storage parameters as the server keeps them ("fastupdate=off")

    @property
    def backs_constraint(self) -> bool:
        """Dropping it would need a constraint dropped (primary key, unique, exclusion, or a
        foreign key that references it)."""
        return bool(self.constraints)


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str
    collation: str | None
    not_null: bool
    statistics: int | None = None  # the column's statistics target; None: default_statistics_target


@dataclass(frozen=True)
class LiveTable:
    """A table named by the spec, or a partition of one."""

    oid: int
    schema: str
    name: str
    kind: str  # 'r' table, 'p' partitioned table, 'm' materialized view
    columns: tuple[Column, ...]
    parent_oid: int | None = None  # the partitioned table this is a partition of
    partition_bound: str | None = None
    partition_key: str | None = None
    partition_columns: tuple[str | None, ...] = ()  # None where the key is an expression
    detach_pending: bool = False
    storage: tuple[tuple[str, str], ...] = ()
    has_toast: bool = True

    @property
    def partitioned(self) -> bool:
        return self.kind == "p"

    @property
    def materialized_view(self) -> bool:
        return self.kind == "m"

    @property
    def key(self) -> str:
        return f"{self.schema}.{self.name}"

    @cached_property
    def _columns_by_name(self) -> dict[str, Column]:
        return {c.name: c for c in self.columns}

    def column(self, name: str) -> Column | None:
        return self._columns_by_name.get(name)

    @cached_property
    def column_types(self) -> tuple[tuple[str, str], ...]:
        """``(name, type)`` of every column, sorted: a hashable key for what types decide."""
        return tuple(sorted((c.name, c.type) for c in self.columns))


@dataclass(frozen=True, slots=True)
class LiveExtension:
    name: str
    installed_version: str | None
    default_version: str | None
    schema: str | None
    available: bool


@dataclass(frozen=True, slots=True)
class ServerInfo:
    version_num: int
    version: str
    database: str
    user: str
    search_path: str = ""
    index_methods: tuple[str, ...] = ()
    in_recovery: bool = False
    read_only: bool = False

    @property
    def major(self) -> int:
        return self.version_num // 10000


@dataclass(frozen=True)
class Catalog:
    """Live state of everything the spec names, read in a fixed number of queries."""

    server: ServerInfo
    tables: dict[int, LiveTable]
    indexes: dict[int, LiveIndex]
    extensions: dict[str, LiveExtension]
    state_rows: tuple[Any, ...] = field(default=(), repr=False, compare=False)
    other_relations: dict[str, str] = field(default_factory=dict)  # named, but not indexable: key -> relkind
    _by_key: dict[str, LiveTable] = field(default_factory=dict, repr=False, compare=False)
    _by_table: dict[int, list[LiveIndex]] = field(default_factory=dict, repr=False, compare=False)
    _by_parent_index: dict[int, list[LiveIndex]] = field(default_factory=dict, repr=False, compare=False)
    _by_parent_table: dict[int, list[LiveTable]] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for table in sorted(self.tables.values(), key=lambda t: t.name):
            self._by_key[table.key] = table
            if table.parent_oid is not None:
                self._by_parent_table.setdefault(table.parent_oid, []).append(table)
        for index in sorted(self.indexes.values(), key=lambda i: i.name):
            self._by_table.setdefault(index.table_oid, []).append(index)
            if index.parent_oid is not None:
                self._by_parent_index.setdefault(index.parent_oid, []).append(index)

    @cached_property
    def fingerprint(self) -> str:
        """A hash of the live state a plan depends on (definitions, validity, names, versions,
        bounds; not statistics), computed from the catalog rows on first use."""
        return hashlib.sha256(pickle.dumps(self.state_rows, protocol=5)).hexdigest()

    def table(self, key: str) -> LiveTable | None:
        """The live table for a spec key ``schema.table``."""
        return self._by_key.get(key)

    def indexes_on(self, table_oid: int) -> list[LiveIndex]:
        """Indexes of one table, by name."""
        return self._by_table.get(table_oid, [])

    def named_tables(self) -> list[LiveTable]:
        """The tables that are not partitions of another, by key."""
        return sorted((t for t in self.tables.values() if t.parent_oid is None), key=lambda t: t.key)

    def partitions_of(self, table_oid: int) -> list[LiveTable]:
        """Direct partitions of a partitioned table, by name."""
        return self._by_parent_table.get(table_oid, [])

    def children_of(self, index_oid: int) -> list[LiveIndex]:
        """Indexes attached to a partitioned index."""
        return self._by_parent_index.get(index_oid, [])


def normalize_storage(options: list[str] | None) -> tuple[tuple[str, str], ...]:
    """``['fillfactor=90', 'fastupdate=off']`` -> sorted pairs with values normalised, so that
    ``off``/``false``/``no`` and ``90``/``90.0`` compare equal."""
    pairs = []
    for option in options or ():
        key, _, value = option.partition("=")
        pairs.append((key.lower(), normalize_option_value(value)))
    return tuple(sorted(pairs))


def normalize_option_value(value: str) -> str:
    """One spelling for a storage-parameter value: numbers by value, boolean words by meaning
    (PostgreSQL's boolean syntax, :func:`~reconciler.base.units.parse_bool`), other text as written."""
    text = str(value).strip().strip("'").lower()
    try:
        number = float(text)
    except ValueError:
        try:
            return "true" if parse_bool(text) else "false"
        except ValueError:
            return text
    return str(int(number)) if number.is_integer() else repr(number)


# --------------------------------------------------------------------------- settings

@dataclass(frozen=True)
class LiveSetting:
    definition: SettingDef
    setting: str            # current value in the base unit, as pg_settings shows it
    pending_restart: bool


@dataclass(frozen=True)
class FileSetting:
    """One line of a configuration file that sets ``name``."""

    sourcefile: str | None
    sourceline: int | None
    name: str | None
    setting: str | None
    applied: bool
    error: str | None

    @property
    def pending(self) -> bool:
        """Written but not in effect: the server says it "could not be applied" (needs a restart)."""
        return self.error is not None and "could not be applied" in self.error

    @property
    def broken(self) -> bool:
        """A real error in a configuration file (not a value waiting for a restart)."""
        return bool(self.error) and not self.pending

    @property
    def auto_conf(self) -> bool:
        return bool(self.sourcefile and self.sourcefile.endswith("postgresql.auto.conf"))


@dataclass(frozen=True)
class LiveSettings:
    values: dict[str, LiveSetting]            # lower-case name -> live setting
    files: list[FileSetting] | None           # None when pg_file_settings may not be read

    def last_file_value(self, name: str) -> FileSetting | None:
        """The entry that wins for ``name`` in the configuration files (the last one)."""
        if not self.files:
            return None
        entries = [f for f in self.files if f.name and f.name.lower() == name.lower() and not f.broken]
        return entries[-1] if entries else None
