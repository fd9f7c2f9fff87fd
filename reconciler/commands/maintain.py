"""``pgrecon maintain``: ANALYZE, VACUUM (ANALYZE) and REINDEX INDEX CONCURRENTLY where they are due.

Due means past a threshold computed the way autovacuum computes its own (``threshold +
scale_factor × rows``) or, for btree indexes, an estimated bloat. Only inside the spec's schedule
window (a cron expression opens it, ``window`` keeps it open), unless forced. Tables are those the
spec names, with their partitions; a partitioned parent is analyzed too, which autovacuum never
does. Every action is logged with its figures before and after; ``lock_timeout`` applies; one
run per database at a time (the apply lock).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from croniter import croniter
from psycopg.rows import dict_row

from reconciler.base.errors import PgreconError
from reconciler.catalog.reader import read_tables
from reconciler.commands.advise.stats import advise_sql
from reconciler.connect.session import connect, fetch_value, time_own_statements
from reconciler.connect.targets import session_policy
from reconciler.engine.apply.locking import acquire_apply_lock, release_apply_lock
from reconciler.render import render_statement
from reconciler.resources.document import Spec
from reconciler.spec.operations import MaintenanceSpec
from reconciler.spec.types import parse_size, split_table_key


@dataclass
class MaintenanceAction:
    kind: str                   # analyze, vacuum, reindex
    target: str                 # schema.table or schema.index
    reason: str
    sql: str
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    seconds: float | None = None


@dataclass
class MaintenanceRun:
    now: datetime
    window_open: bool
    window: str
    actions: list[MaintenanceAction] = field(default_factory=list)
    ran: bool = False


def window(spec: MaintenanceSpec, now: datetime) -> tuple[bool, datetime, datetime]:
    """(open, opened at, closes at) of the schedule window around ``now``."""
    local = now.astimezone(ZoneInfo(spec.timezone))
    itr = croniter(spec.schedule, local + timedelta(microseconds=1))
    opened = itr.get_prev(datetime)
    closes = opened + timedelta(milliseconds=spec.window)
    return opened <= local < closes, opened, closes


def _table_rows(conn: psycopg.Connection, oids: set[int]) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(advise_sql("tables"))
        return [r for r in cur.fetchall() if r["oid"] in oids]


def _index_rows(conn: psycopg.Connection, oids: list[int]) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(advise_sql("indexes"), {"tables": oids})
        rows = cur.fetchall()
        names = {r[0]: (r[1], r[2], r[3]) for r in conn.execute(
            "SELECT c.oid, n.nspname::text, c.relname::text, c.relkind::text FROM pg_catalog.pg_class c "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = ANY(%s)",
            ([r["oid"] for r in rows],)).fetchall()}
    for row in rows:
        row["schema"], row["name"], row["kind"] = names[row["oid"]]
    return rows


def due(spec: Spec, tables: list[dict[str, Any]], partitioned: dict[int, list[int]],
        indexes: list[dict[str, Any]]) -> list[MaintenanceAction]:
    """The actions whose thresholds are passed (pure)."""
    m = _maintenance(spec)
    out = []
    by_oid = {t["oid"]: t for t in tables}
    for t in tables:
        key = (t["schema"], t["name"])
        rows = max(float(t["reltuples"] or 0), 0.0)
        if "vacuum" in m.actions and t["kind"] == "r":
            limit = m.vacuum.threshold + m.vacuum.scale_factor * rows
            if (t["n_dead_tup"] or 0) > limit:
                out.append(MaintenanceAction("vacuum", ".".join(key), f"{t['n_dead_tup']} dead tuples > {limit:.0f}",
                                             render_statement("maintenance", action="vacuum", target=key),
                                             {"n_dead_tup": t["n_dead_tup"],
                                              "n_mod_since_analyze": t["n_mod_since_analyze"]}))
                continue
        if "analyze" in m.actions and t["kind"] == "r":
            limit = m.analyze.threshold + m.analyze.scale_factor * rows
            if (t["n_mod_since_analyze"] or 0) > limit:
                out.append(MaintenanceAction("analyze", ".".join(key),
                                             f"{t['n_mod_since_analyze']} changes since the last analyze > {limit:.0f}",
                                             render_statement("maintenance", action="analyze", target=key),
                                             {"n_mod_since_analyze": t["n_mod_since_analyze"]}))
    if "analyze" in m.actions:
        for parent_oid, leaves in partitioned.items():
            parent = by_oid.get(parent_oid)
            changes = sum(by_oid[o]["n_mod_since_analyze"] or 0 for o in leaves if o in by_oid)
            rows = sum(max(float(by_oid[o]["reltuples"] or 0), 0) for o in leaves if o in by_oid)
            limit = m.analyze.threshold + m.analyze.scale_factor * rows
            if parent is not None and changes > limit:
                key = (parent["schema"], parent["name"])
                out.append(MaintenanceAction("analyze", ".".join(key),
                                             f"partitions changed {changes} rows > {limit:.0f} (autovacuum never "
                                             f"analyzes a partitioned table)",
                                             render_statement("maintenance", action="analyze", target=key),
                                             {"partition_changes": changes}))
    if "reindex" in m.actions:
        min_size = parse_size(m.reindex.min_size)
        for i in indexes:
            if i["kind"] != "i" or i["bloat_ratio"] is None or i["size_bytes"] < min_size:
                continue
            bloat = 100 * float(i["bloat_ratio"])
            if bloat >= m.reindex.bloat_pct:
                key = (i["schema"], i["name"])
                out.append(MaintenanceAction("reindex", ".".join(key), f"estimated bloat {bloat:.0f}% >= "
                                             f"{m.reindex.bloat_pct:g}%",
                                             render_statement("maintenance", action="reindex", target=key),
                                             {"size_bytes": i["size_bytes"], "bloat_pct": round(bloat, 1)}))
    return out


def _collect(conn: psycopg.Connection,
             spec: Spec) -> tuple[list[dict[str, Any]], dict[int, list[int]], list[dict[str, Any]]]:
    table_dicts = read_tables(conn, [split_table_key(k) for k in spec.tables])
    oids = {d["oid"] for d in table_dicts}
    partitioned: dict[int, list[int]] = {}
    for d in table_dicts:
        if d["kind"] == "p":
            partitioned.setdefault(d["oid"], [])
    parents = {d["oid"]: d["parent_oid"] for d in table_dicts}
    for d in table_dicts:
        if d["kind"] != "r":
            continue
        parent = d["parent_oid"]
        while parent is not None and parent in oids:
            partitioned.setdefault(parent, []).append(d["oid"])
            parent = parents.get(parent)
    tables = _table_rows(conn, oids)
    tables += [{"oid": d["oid"], "schema": d["schema"], "name": d["name"], "kind": "p", "reltuples": 0,
                "n_dead_tup": 0, "n_mod_since_analyze": 0} for d in table_dicts if d["kind"] == "p"]
    return tables, partitioned, _index_rows(conn, [d["oid"] for d in table_dicts if d["kind"] == "r"])


def _figures(conn: psycopg.Connection, action: MaintenanceAction) -> dict[str, Any]:
    schema, name = action.target.split(".", 1)
    if action.kind == "reindex":
        size = conn.execute("SELECT pg_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = "
                            "c.relnamespace WHERE n.nspname = %s AND c.relname = %s", (schema, name)).fetchone()
        return {"size_bytes": size[0] if size else None}
    row = conn.execute("SELECT n_dead_tup, n_mod_since_analyze FROM pg_stat_user_tables WHERE schemaname = %s "
                       "AND relname = %s", (schema, name)).fetchone()
    return {"n_dead_tup": row[0], "n_mod_since_analyze": row[1]} if row else {}


def _maintenance(spec: Spec) -> MaintenanceSpec:
    if spec.maintenance is None:
        raise PgreconError("the spec has no maintenance: section (schedule, window, thresholds)")
    return spec.maintenance


def run_maintain(dsn: str, spec: Spec, now: datetime | None = None, dry_run: bool = False, force: bool = False,
                 lock_timeout_ms: int = 5000, on_action: Any = None) -> MaintenanceRun:
    """Decide what is due; run it if inside the window (or forced) and not a dry run."""
    with connect(dsn, policy=session_policy(spec)) as conn:
        # Maintenance is long statements (its reads of bloat too), timed like apply's index builds
        # (target.build_timeout, none by default) whatever the role's or database's defaults.
        conn.execute("SELECT pg_catalog.set_config('statement_timeout', %s, false)",
                     (f"{spec.target.build_timeout}ms",))
        time_own_statements(conn)
        now = now or fetch_value(conn, "SELECT now()")
        m = _maintenance(spec)
        is_open, opened, closes = window(m, now)
        run = MaintenanceRun(now, is_open, f"{opened:%Y-%m-%d %H:%M} - {closes:%H:%M} {m.timezone}")
        tables, partitioned, indexes = _collect(conn, spec)
        run.actions = due(spec, tables, partitioned, indexes)
        if dry_run or not (is_open or force) or not run.actions:
            return run
        acquire_apply_lock(conn, spec.target.lock_wait)
        try:
            conn.execute("SELECT set_config('lock_timeout', %s, false)", (f"{lock_timeout_ms}ms",))
            for action in run.actions:
                started = time.monotonic()
                conn.execute(action.sql)
                action.seconds = round(time.monotonic() - started, 3)
                action.after = _figures(conn, action)
                if on_action:
                    on_action(action)
            run.ran = True
        finally:
            release_apply_lock(conn)
    return run
