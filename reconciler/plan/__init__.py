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
from ..catalog.partitions import RangeCount, database_now, oldest_rows, rows_in_ranges, taken_names
from ..diff import diff_extensions, diff_indexes
from ..diff.partitions import PartitionDiff, default_partition, diff_partitions, literal, partition_plans
from ..diff.settings import SettingDiff, diff_settings
from ..diff.tables import diff_tables
from ..catalog.settings import read_settings
from ..settings.desired import desired_settings
from ..settings.values import normalize
from ..pgbouncer.checks import LIMIT_NAMES, cross_check, limits_from, target_release
from ..pgbouncer.live import read_live
from ..diff.pgbouncer import diff_pgbouncer, read_ini_pairs
from ..render.files import pgbouncer_ini, pgbouncer_settings
from pathlib import Path
from ..errors import SpecError
from ..perf import paused_gc
from ..spec.models import Spec, split_table_key
from .builder import (extension_change, index_changes, partition_changes, pgbouncer_change, setting_changes,
                      table_storage_change)
from .models import Change, Hazard, Note, Plan, Statement

__all__ = ["Change", "Hazard", "Note", "Plan", "Statement", "make_plan", "read_for_spec"]


def _partition_diff(conn: psycopg.Connection, spec: Spec, catalog: Catalog, now: datetime) -> PartitionDiff:
    """Plan each partitioned table, then probe the database for names taken and rows waiting."""
    defaults = [(key, default_partition(catalog, catalog.table(key)), t.partitioning.column)
                for key, t in spec.tables.items() if t.partitioning is not None]
    defaults = [(key, d, column) for key, d, column in defaults if d is not None and d.column(column)]
    oldest = dict(zip([k for k, _, _ in defaults], oldest_rows(conn, [(d, c) for _, d, c in defaults])))
    plans, problems = partition_plans(spec, catalog, now, oldest)
    if problems:
        return PartitionDiff(problems=problems)
    wanted = [(p.parent.schema, name) for p in plans for _, name in p.creates]
    wanted += [(p.parent.schema, p.create_default) for p in plans if p.create_default]
    taken = taken_names(conn, wanted)
    requests, keys = [], []
    for p in plans:
        if p.default is None:
            continue
        for b, name in p.creates:
            requests.append(RangeCount(p.default, p.spec.column, literal(b, False, p.column_type),
                                       literal(b, True, p.column_type)))
            keys.append((p.parent.schema, name))
    rows = dict(zip(keys, rows_in_ranges(conn, requests))) if requests else {}
    return diff_partitions(plans, taken, rows, catalog.server.major)


def _setting_diff(conn: psycopg.Connection, spec: Spec, catalog: Catalog) -> SettingDiff:
    """Declared (and derived) settings against pg_settings and the configuration files."""
    desired = desired_settings(spec, catalog.server.major)
    live = read_settings(conn, [*desired, "shared_preload_libraries"])
    modules = {name.lower() for name, ext in catalog.extensions.items() if ext.available}
    preload = live.values.get("shared_preload_libraries")
    if preload is not None:
        modules |= {part.strip().lower() for part in preload.setting.split(",") if part.strip()}
    return diff_settings(desired, live, modules, spec.postgres.prune_unmanaged_settings, catalog.server.major)


def _pgbouncer(conn: psycopg.Connection, spec: Spec, catalog: Catalog,
               setting_diff: SettingDiff) -> tuple[list[Change], list[Note]]:
    """Cross-check the pool with the server's limits; compare with a running PgBouncer."""
    pb = spec.pgbouncer
    live_limits = read_settings(conn, list(LIMIT_NAMES)).values
    values = {name: normalize(s.definition, s.setting) for name, s in live_limits.items()}
    declared = [n for n in LIMIT_NAMES if n in setting_diff.normalized]
    values.update({n: setting_diff.normalized[n] for n in declared})
    source = (f"{', '.join(declared)} from the spec, " if declared else "") + "the live server otherwise"
    live = read_live(spec.secret(("pgbouncer", "admin_dsn"), pb.admin_dsn)) if pb.admin_dsn else None
    release = live.version if live else target_release(spec)
    checked = cross_check(pb, limits_from(values, source), release)
    if checked.problems:
        raise SpecError([spec.source.problem(("pgbouncer",) + p, m) for p, m in checked.problems])
    notes = [Note(kind="pgbouncer", name="", message=w) for w in checked.warnings]
    if live is None:
        return [], notes
    ini = pgbouncer_ini(spec, spec.source.file if spec.source else "schema.yaml")
    on_disk = None
    if pb.config_file and Path(pb.config_file).exists():
        on_disk = read_ini_pairs(Path(pb.config_file).read_text())
    databases = {name: db.model_dump(exclude_none=True) for name, db in pb.databases.items()}
    diff = diff_pgbouncer(pgbouncer_settings(spec), databases, live, on_disk)
    notes += [Note(kind="pgbouncer", name=k, message="written; takes effect when PgBouncer restarts")
              for k in diff.pending]
    if diff.empty:
        return [], notes
    if not pb.config_file:
        raise SpecError([spec.source.problem(("pgbouncer", "config_file"),
                                             "the running PgBouncer differs from the spec; set config_file to "
                                             "the pgbouncer.ini it reads so that apply can write it")])
    return [pgbouncer_change(diff, pb.config_file, ini.content)], notes


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
    partitioned = any(t.partitioning for t in spec.tables.values())
    if partitioned and now is None:
        now = database_now(conn)
    partition_diff = _partition_diff(conn, spec, catalog, now) if partitioned else PartitionDiff()
    setting_diff = _setting_diff(conn, spec, catalog) if spec.postgres else SettingDiff()
    table_diff = diff_tables(spec, catalog)
    problems += [source.problem(p, m) for p, m in extension_diff.problems + index_diff.problems
                 + partition_diff.problems + setting_diff.problems + table_diff.problems]
    if problems:
        raise SpecError(problems)
    changes: list[Change] = setting_changes(setting_diff.actions)
    changes += [extension_change(a) for a in extension_diff.actions]
    changes += [table_storage_change(a) for a in table_diff.actions]
    changes += index_changes(index_diff.actions)
    creates, retirements = partition_changes(partition_diff.actions)
    changes += creates + retirements
    notes = [Note(kind="extension", name="", message=m) for m in extension_diff.notes]
    notes += [Note(kind="index", name=n.name, table=n.table, message=n.message) for n in index_diff.notes]
    notes += [Note(kind="partition", name=name, table=table, message=m) for table, name, m in partition_diff.notes]
    notes += [Note(kind="setting", name=name, message=m) for name, m in setting_diff.notes]
    if spec.pgbouncer is not None:
        pb_changes, pb_notes = _pgbouncer(conn, spec, catalog, setting_diff)
        changes += pb_changes
        notes += pb_notes
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
