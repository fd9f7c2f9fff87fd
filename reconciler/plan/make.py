"""make_plan: read the catalog, resolve the declared state, diff every section, order the changes."""

from __future__ import annotations

from datetime import datetime, timezone

import psycopg

from ..catalog import Catalog, read_catalog
from ..catalog.canonical_cache import remember_canonical_forms
from ..catalog.desired import resolve_desired
from ..catalog.partitions import database_now
from ..diff import diff_extensions, diff_indexes
from ..diff.partitions import PartitionDiff
from ..diff.settings import SettingDiff
from ..diff.tables import diff_tables
from ..errors import SpecError
from ..perf import paused_gc
from ..spec.models import Spec, split_table_key
from .builder import extension_change, index_changes, partition_changes, setting_changes, table_storage_change
from .models import Change, Note, Plan
from .sections import partition_diff, pgbouncer_changes, setting_diff


def read_for_spec(conn: psycopg.Connection, spec: Spec) -> Catalog:
    """The live state of exactly what ``spec`` names."""
    return read_catalog(conn, [split_table_key(k) for k in spec.tables], [e.name for e in spec.extensions])


def make_plan(conn: psycopg.Connection, spec: Spec, now: datetime | None = None, fingerprint: bool = True) -> Plan:
    """Everything that differs between ``spec`` and the database behind ``conn``.

    Raises :class:`SpecError` when the spec names what the database does not have or declares
    what the server refuses; nothing is changed in the database. ``fingerprint`` (the hash of
    the live state a saved plan is checked against) can be skipped when nobody will use it.
    """
    with paused_gc():
        return _make_plan(conn, spec, now, fingerprint)


def _make_plan(conn: psycopg.Connection, spec: Spec, now: datetime | None, fingerprint: bool) -> Plan:
    catalog = read_for_spec(conn, spec)
    source = spec.source
    extension_diff = diff_extensions(spec, catalog)
    resolution = resolve_desired(conn, spec, catalog)
    if resolution.computed and resolution.cache_exists and not resolution.problems:
        remember_canonical_forms(conn, resolution.computed, create=False)
    problems = resolution.problems
    index_diff = diff_indexes(spec, catalog, resolution.desired)
    partitioned = any(t.partitioning for t in spec.tables.values())
    if partitioned and now is None:
        now = database_now(conn)
    partitions = partition_diff(conn, spec, catalog, now) if partitioned else PartitionDiff()
    settings = setting_diff(conn, spec, catalog) if spec.postgres else SettingDiff()
    table_diff = diff_tables(spec, catalog)
    problems += [source.problem(p, m) for p, m in extension_diff.problems + index_diff.problems
                 + partitions.problems + settings.problems + table_diff.problems]
    if problems:
        raise SpecError(problems)
    changes: list[Change] = setting_changes(settings.actions)
    changes += [extension_change(a) for a in extension_diff.actions]
    changes += [table_storage_change(a) for a in table_diff.actions]
    changes += index_changes(index_diff.actions)
    creates, retirements = partition_changes(partitions.actions)
    changes += creates + retirements
    notes = [Note(kind="extension", name="", message=m) for m in extension_diff.notes]
    notes += [Note(kind="index", name=n.name, table=n.table, message=n.message) for n in index_diff.notes]
    notes += [Note(kind="partition", name=name, table=table, message=m) for table, name, m in partitions.notes]
    notes += [Note(kind="setting", name=name, message=m) for name, m in settings.notes]
    if spec.pgbouncer is not None:
        pb_changes, pb_notes = pgbouncer_changes(conn, spec, catalog, settings)
        changes += pb_changes
        notes += pb_notes
    plan = Plan(
        spec_sha256=source.sha256 if source else "",
        fingerprint=catalog.fingerprint if fingerprint else "",
        database=catalog.server.database,
        server_version=catalog.server.version,
        created_at=datetime.now(timezone.utc),
        now=now,
        changes=tuple(changes),
        notes=tuple(notes),
    )
    plan._canonical = resolution.computed
    return plan
