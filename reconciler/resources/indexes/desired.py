"""Declared indexes in the shape of live ones, checked against the live tables.

A declared index that :func:`~reconciler.resources.indexes.equivalence.matches` a live index of its table
takes that index's definition: no DDL, no cache, nothing written (the common case of a database
in sync). Every other declared index gets its canonical form from the canonical-form cache, else
from :func:`~reconciler.resources.indexes.canonical.canonicalize`: the server says what it means, and
refuses what it would refuse at apply time. On a read-only session (a hot standby) the server
cannot be asked; such declarations are reported with the way to warm the cache.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

import psycopg

from reconciler.base.kinds import SpecProblem
from reconciler.catalog.models import Catalog, IndexDefinition, LiveIndex, LiveTable, normalize_storage
from reconciler.catalog.reader import shared_key
from reconciler.resources.document import Spec
from reconciler.resources.indexes.canonical import CanonicalRequest, IndexRef, canonicalize
from reconciler.resources.indexes.canonical_cache import cache_key, context_key, read_cached
from reconciler.resources.indexes.diff import DesiredIndex
from reconciler.resources.indexes.equivalence import matches
from reconciler.resources.indexes.spec import IndexSpec
from reconciler.spec.types import split_table_key


def plain_definition(index: IndexSpec) -> IndexDefinition | None:
    """The definition of a declared index written with plain columns only (default operator
    classes and collations, no predicate), which needs no server to write down; else ``None``."""
    if index.where is not None or any(c.column is None or c.opclass or c.collation for c in index.columns):
        return None
    return IndexDefinition(
        method=index.using,
        keys=tuple(shared_key(c.column, None, None, None, c.descending, c.nulls_first) for c in index.columns),
        unique=index.unique,
        include=tuple(c.column for c in index.include),
        predicate=None,
        storage=normalize_storage([f"{k}={v}" for k, v in index.with_.items()]) if index.with_ else (),
        nulls_not_distinct=index.nulls_not_distinct,
    )


def live_match(index: IndexSpec, table: LiveTable, live: list[LiveIndex]) -> LiveIndex | None:
    """The live index of ``table`` that ``index`` certainly is (same name tried first), if any."""
    for candidate in sorted(live, key=lambda ix: ix.name != index.name):
        if matches(index, table, candidate.definition):
            return candidate
    return None


_KIND_NAMES = {"v": "a view", "f": "a foreign table", "S": "a sequence", "i": "an index", "I": "an index",
               "c": "a composite type", "t": "a TOAST table"}


def _missing_relation(key: str, kind: str | None) -> str:
    schema, name = split_table_key(key)
    if kind is not None:
        return (f"{key} is {_KIND_NAMES.get(kind, f'a relation of kind {kind!r}')}; PostgreSQL indexes only "
                f"tables, partitioned tables and materialized views")
    return (f"no table, partitioned table or materialized view {name!r} in schema {schema!r} (pgrecon manages "
            f"their indexes; the relations themselves come from your migrations)")


def _unknown_method(catalog: Catalog, spec: Spec, method: str) -> str | None:
    """Why ``method`` cannot be used here, if it cannot: it must be in ``pg_am``, unless an
    extension the spec installs may bring it (then the server decides while canonicalising)."""
    known = catalog.server.index_methods
    if not known or method in known:
        return None
    if any(_installable(catalog, e.name) for e in spec.extensions):
        return None
    close = difflib.get_close_matches(method, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else f"; installed: {', '.join(known)}"
    return f"access method {method!r} is not installed in this database{hint}"


def missing_objects(spec: Spec, catalog: Catalog) -> list[SpecProblem]:
    """Relations, columns and access methods the spec names that the database does not have."""
    problems: list[SpecProblem] = []
    for key, table_spec in spec.tables.items():
        table = catalog.table(key)
        if table is None:
            problems.append((("tables", key), _missing_relation(key, catalog.other_relations.get(key))))
            continue
        if table.materialized_view and table_spec.partitioning is not None:
            problems.append((("tables", key, "partitioning"), f"{key} is a materialized view; it cannot be "
                                                              f"partitioned"))
        for i, index in enumerate(table_spec.indexes):
            method_problem = _unknown_method(catalog, spec, index.using)
            if method_problem:
                problems.append((("tables", key, "indexes", i, "using"), method_problem))
            for j, col in enumerate(index.columns):
                if col.column is not None and table.column(col.column) is None:
                    problems.append((("tables", key, "indexes", i, "columns", j),
                                     f"column {col.column!r} does not exist in {key}{_suggest(table, col.column)}"))
            for j, included in enumerate(index.include):
                if table.column(included.column) is None:
                    problems.append((("tables", key, "indexes", i, "include", j),
                                     f"column {included.column!r} does not exist in {key}"
                                     f"{_suggest(table, included.column)}"))
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
    close = difflib.get_close_matches(name, [c.name for c in table.columns], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


@dataclass
class Resolution:
    """Declared indexes with their definitions, the problems found, and the canonical forms the
    server computed this time (for ``apply`` to add to the cache)."""

    desired: list[DesiredIndex]
    problems: list[SpecProblem]
    computed: dict[str, IndexDefinition]
    cache_exists: bool = False
    notes: list[str] = field(default_factory=list)


READ_ONLY_FIX = ("this session is read-only (a hot standby?), so the server cannot be asked for its canonical "
                 "form; run `pgrecon plan` or `pgrecon apply` with this spec on the primary once: it records "
                 "the forms in pgrecon.canonical_cache, which standbys replicate")


def resolve_desired(conn: psycopg.Connection, spec: Spec, catalog: Catalog) -> Resolution:
    """Every declared index with its canonical definition, or the problems that prevent it.
    Definitions are read off a matching live index when one certainly matches, else come from
    the cache, else from the server (never on a read-only session)."""
    problems = missing_objects(spec, catalog)
    if problems:
        return Resolution([], problems, {})
    resolved: dict[IndexRef, IndexDefinition] = {}
    requests: list[CanonicalRequest] = []
    for key, table_spec in spec.tables.items():
        table = catalog.table(key)
        assert table is not None  # missing_objects found every missing table
        live = catalog.indexes_on(table.oid)
        for i, index in enumerate(table_spec.indexes):
            found = live_match(index, table, live)
            if found is not None:
                resolved[(key, "indexes", i)] = found.definition
                continue
            requests.append(CanonicalRequest(ref=(key, "indexes", i), table=table, index=index))
    computed: dict[str, IndexDefinition] = {}
    keys: dict[IndexRef, str] = {}
    notes: list[str] = []
    cache_exists = False
    if requests:
        context = context_key(catalog)
        keys = {request.ref: cache_key(context, request.table, request.index) for request in requests}
        cached = read_cached(conn, list(set(keys.values())), spec.target.schema_owner)
        cache_exists = cached is not None
        if cached is not None and cached.ignored:
            notes.append(f"ignored {len(cached.ignored)} entr{'y' if len(cached.ignored) == 1 else 'ies'} of "
                         f"pgrecon.canonical_cache that do not parse (the server was asked instead)")
        for request in requests:
            if cached and keys[request.ref] in cached.found:
                resolved[request.ref] = cached.found[keys[request.ref]]
        requests = [r for r in requests if r.ref not in resolved]
    if requests and (catalog.server.read_only or catalog.server.in_recovery):
        for request in requests:
            problems.append((("tables", *request.ref), f"{request.index.name} cannot be compared here: "
                                                       f"{READ_ONLY_FIX}"))
        requests = []
    if requests:
        missing_extensions = [e for e in spec.extensions if _installable(catalog, e.name)]
        answers = canonicalize(conn, requests, missing_extensions, spec.target.lock_timeout)
        for request in requests:
            answer = answers.get(request.ref)
            if answer is None or answer.definition is None:
                reason = answer.error if answer else "the server did not accept this index"
                problems.append((("tables", *request.ref), f"the server refuses this index: {reason}"))
            else:
                resolved[request.ref] = answer.definition
                if not missing_extensions:  # with an extension created only for the check, the key would differ
                    computed[keys[request.ref]] = answer.definition
    desired = [DesiredIndex(key, i, index, resolved[(key, "indexes", i)])
               for key, table_spec in spec.tables.items()
               for i, index in enumerate(table_spec.indexes) if (key, "indexes", i) in resolved]
    return Resolution(desired, problems, computed, cache_exists, notes)
