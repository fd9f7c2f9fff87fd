"""Declared indexes in the shape of live ones, checked against the live tables.

A plain declared index (columns only, default operator classes and collations, no predicate) has
a definition that can be written down without the server, and is compared with live indexes
directly. Every other declared index, and every plain one that does not already match a live
index, goes through :func:`~reconciler.catalog.canonical.canonicalize`: the server says what it
means, and refuses what it would refuse at apply time.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from ..errors import Problem
from ..spec.models import IndexSpec, Spec, split_table_key
from .canonical import CanonicalRequest, canonicalize
from .canonical_cache import cache_key, context_key, read_cached
from .models import Catalog, IndexDefinition, LiveTable
from .reader import normalize_storage, shared_key


@dataclass(frozen=True)
class DesiredIndex:
    """A declared index with its canonical definition and its place in the spec."""

    table_key: str
    position: int
    spec: IndexSpec
    definition: IndexDefinition

    @property
    def path(self) -> tuple:
        return ("tables", self.table_key, "indexes", self.position)

    @property
    def name(self) -> str:
        return self.spec.name


def plain_definition(index: IndexSpec) -> IndexDefinition:
    """The definition of a plain declared index (see :attr:`IndexSpec.is_plain`)."""
    return IndexDefinition(
        method=index.using,
        keys=tuple(shared_key(c.column, None, None, None, c.descending, c.nulls_first) for c in index.columns),
        unique=index.unique,
        include=tuple(c.column for c in index.include),
        predicate=None,
        storage=normalize_storage([f"{k}={v}" for k, v in index.with_.items()]) if index.with_ else (),
        nulls_not_distinct=index.nulls_not_distinct,
    )


def missing_objects(spec: Spec, catalog: Catalog) -> list[tuple[tuple, str]]:
    """Tables and columns the spec names that the database does not have."""
    problems = []
    for key, table_spec in spec.tables.items():
        table = catalog.table(key)
        if table is None:
            schema, name = split_table_key(key)
            problems.append((("tables", key), f"table {name!r} does not exist in schema {schema!r} "
                                              f"(pgrecon manages tables' indexes; the tables come from your migrations)"))
            continue
        for i, index in enumerate(table_spec.indexes):
            for j, col in enumerate(index.columns):
                if col.column is not None and table.column(col.column) is None:
                    problems.append((("tables", key, "indexes", i, "columns", j),
                                     f"column {col.column!r} does not exist in {key}{_suggest(table, col.column)}"))
            for j, col in enumerate(index.include):
                if table.column(col.column) is None:
                    problems.append((("tables", key, "indexes", i, "include", j),
                                     f"column {col.column!r} does not exist in {key}{_suggest(table, col.column)}"))
            if index.unique and table.partitioned:
                problem = _unique_on_partitioned(table, index)
                if problem:
                    problems.append((("tables", key, "indexes", i, "unique"), problem))
    return problems


def _unique_on_partitioned(table: LiveTable, index: IndexSpec) -> str | None:
    """Why the server would refuse ``index`` (unique) on the partitioned ``table``, if it would:
    each partition enforces uniqueness alone, so the key must hold every partition column."""
    if None in table.partition_columns:
        return (f"{table.key} is partitioned by an expression ({table.partition_key}): "
                f"PostgreSQL cannot enforce a unique index on it")
    keys = {c.column for c in index.columns if c.column is not None}
    absent = [c for c in table.partition_columns if c not in keys]
    if absent:
        return (f"a unique index on {table.key}, partitioned by {table.partition_key}, must have "
                f"{', '.join(repr(c) for c in absent)} among its key columns (not in include)")
    return None


def _installable(catalog: Catalog, name: str) -> bool:
    live = catalog.extensions.get(name)
    return live is not None and live.available and live.installed_version is None


def _suggest(table: LiveTable, name: str) -> str:
    import difflib
    close = difflib.get_close_matches(name, [c.name for c in table.columns], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


@dataclass
class Resolution:
    """Declared indexes with their definitions, the problems found, and the canonical forms the
    server computed this time (for ``apply`` to add to the cache)."""

    desired: list[DesiredIndex]
    problems: list[Problem]
    computed: dict[str, IndexDefinition]


def resolve_desired(conn: psycopg.Connection, spec: Spec, catalog: Catalog) -> Resolution:
    """Every declared index with its canonical definition, or the problems that prevent it.
    Canonical forms come from the cache when it has them, else from the server."""
    source = spec.source
    problems = [source.problem(p, m) for p, m in missing_objects(spec, catalog)]
    if problems:
        return Resolution([], problems, {})
    resolved: dict[tuple[str, int], IndexDefinition] = {}
    requests: list[CanonicalRequest] = []
    for key, table_spec in spec.tables.items():
        table = catalog.table(key)
        live = None
        for i, index in enumerate(table_spec.indexes):
            if index.is_plain:
                definition = plain_definition(index)
                if live is None:
                    live = {ix.name: ix for ix in catalog.indexes_on(table.oid)}
                same_name = live.get(index.name)
                if same_name is not None and same_name.definition == definition and same_name.valid:
                    resolved[(key, i)] = definition
                    continue
                if any(ix.definition == definition and ix.valid for ix in live.values()):
                    resolved[(key, i)] = definition  # exists under another name: a rename
                    continue
            requests.append(CanonicalRequest(ref=(key, i), table=table, index=index))
    computed: dict[str, IndexDefinition] = {}
    keys: dict = {}
    if requests:
        context = context_key(catalog)
        keys = {request.ref: cache_key(context, request.table, request.index) for request in requests}
        cached = read_cached(conn, list(set(keys.values())))
        for request in requests:
            if keys[request.ref] in cached:
                resolved[request.ref] = cached[keys[request.ref]]
        requests = [r for r in requests if r.ref not in resolved]
    if requests:
        missing_extensions = [e for e in spec.extensions if _installable(catalog, e.name)]
        answers = canonicalize(conn, requests, missing_extensions, spec.target.lock_timeout)
        for request in requests:
            answer = answers.get(request.ref)
            key, i = request.ref
            if answer is None or answer.definition is None:
                reason = answer.error if answer else "the server did not accept this index"
                problems.append(source.problem(("tables", key, "indexes", i), f"the server refuses this index: {reason}"))
            else:
                resolved[request.ref] = answer.definition
                if not missing_extensions:  # with an extension created only for the check, the key would differ
                    computed[keys[request.ref]] = answer.definition
    desired = [DesiredIndex(key, i, index, resolved[(key, i)])
               for key, table_spec in spec.tables.items()
               for i, index in enumerate(table_spec.indexes) if (key, i) in resolved]
    return Resolution(desired, problems, computed)
