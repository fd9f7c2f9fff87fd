"""The plan stage: read the catalog, resolve the declared state, diff, and order the changes.

>>> plan = make_plan(conn, load_spec("schema.yaml"))   # doctest: +SKIP
>>> [c.action for c in plan.changes]                      # doctest: +SKIP
['create', 'create']
"""

from __future__ import annotations

from datetime import datetime, timezone

import psycopg

from ..catalog import Catalog, read_catalog
from ..catalog.desired import resolve_desired
from ..diff import diff_extensions, diff_indexes
from ..errors import SpecError
from ..perf import paused_gc
from ..spec.models import Spec, split_table_key
from .builder import extension_change, index_changes
from .models import Change, Hazard, Note, Plan, Statement

__all__ = ["Change", "Hazard", "Note", "Plan", "Statement", "make_plan", "read_for_spec"]


def read_for_spec(conn: psycopg.Connection, spec: Spec) -> Catalog:
    """The live state of exactly what ``spec`` names."""
    return read_catalog(conn, [split_table_key(k) for k in spec.tables], [e.name for e in spec.extensions])


def make_plan(conn: psycopg.Connection, spec: Spec, now: datetime | None = None) -> Plan:
    """Everything that differs between ``spec`` and the database behind ``conn``.

    Raises :class:`SpecError` when the spec names what the database does not have or declares
    what the server refuses; nothing is changed in the database.
    """
    with paused_gc():
        return _make_plan(conn, spec, now)


def _make_plan(conn: psycopg.Connection, spec: Spec, now: datetime | None) -> Plan:
    catalog = read_for_spec(conn, spec)
    source = spec.source
    extension_diff = diff_extensions(spec, catalog)
    desired, problems = resolve_desired(conn, spec, catalog)
    index_diff = diff_indexes(spec, catalog, desired)
    problems += [source.problem(p, m) for p, m in extension_diff.problems + index_diff.problems]
    if problems:
        raise SpecError(problems)
    changes: list[Change] = [extension_change(a) for a in extension_diff.actions]
    changes += index_changes(index_diff.actions)
    notes = [Note(kind="extension", name="", message=m) for m in extension_diff.notes]
    notes += [Note(kind="index", name=n.name, table=n.table, message=n.message) for n in index_diff.notes]
    return Plan(
        spec_sha256=source.sha256 if source else "",
        fingerprint=catalog.fingerprint,
        database=catalog.server.database,
        server_version=catalog.server.version,
        created_at=datetime.now(timezone.utc),
        now=now,
        changes=tuple(changes),
        notes=tuple(notes),
    )
