"""Each spec section's diff with the read-only probes it needs: partitions (now, names taken,
rows waiting in default partitions), server settings (pg_settings, configuration files) and
PgBouncer (the server's limits, a running PgBouncer's SHOW CONFIG)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import psycopg

from ..catalog import Catalog
from ..catalog.partitions import RangeCount, oldest_rows, rows_in_ranges, taken_names
from ..catalog.settings import read_settings
from ..diff.partitions import PartitionDiff, default_partition, diff_partitions, literal, partition_plans
from ..diff.pgbouncer import diff_pgbouncer, read_ini_pairs
from ..diff.settings import SettingDiff, diff_settings
from ..errors import SpecError
from ..pgbouncer.checks import LIMIT_NAMES, cross_check, limits_from, target_release
from ..pgbouncer.live import read_live
from ..render.files import pgbouncer_ini, pgbouncer_settings
from ..settings.desired import desired_settings
from ..settings.values import normalize
from ..spec.models import Spec
from .builder import pgbouncer_change
from .models import Change, Note


def partition_diff(conn: psycopg.Connection, spec: Spec, catalog: Catalog, now: datetime) -> PartitionDiff:
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


def setting_diff(conn: psycopg.Connection, spec: Spec, catalog: Catalog) -> SettingDiff:
    """Declared (and derived) settings against pg_settings and the configuration files."""
    desired = desired_settings(spec, catalog.server.major)
    live = read_settings(conn, [*desired, "shared_preload_libraries"])
    modules = {name.lower() for name, ext in catalog.extensions.items() if ext.available}
    preload = live.values.get("shared_preload_libraries")
    if preload is not None:
        modules |= {part.strip().lower() for part in preload.setting.split(",") if part.strip()}
    return diff_settings(desired, live, modules, spec.postgres.prune_unmanaged_settings, catalog.server.major)


def pgbouncer_changes(conn: psycopg.Connection, spec: Spec, catalog: Catalog,
                      settings: SettingDiff) -> tuple[list[Change], list[Note]]:
    """Cross-check the pool with the server's limits; compare with a running PgBouncer."""
    pb = spec.pgbouncer
    live_limits = read_settings(conn, list(LIMIT_NAMES)).values
    values = {name: normalize(s.definition, s.setting) for name, s in live_limits.items()}
    declared = [n for n in LIMIT_NAMES if n in settings.normalized]
    values.update({n: settings.normalized[n] for n in declared})
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
