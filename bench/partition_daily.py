"""Daily partition maintenance, timed (run by hand; results go in README).

    python bench/partition_daily.py                       # pgrecon against pg_partman on PostgreSQL 15
    python bench/partition_daily.py --many 400            # one day with 400 partitions present (PG 18)

The comparison runs on the system PostgreSQL 15 with Debian's ``postgresql-15-partman`` (4.7),
installed by ``.ci/run``. Two identical tables, partitioned by day, premake 4, 7 days of
retention (drop), a default partition, the same rows; one kept by pg_partman
(``create_parent``, ``run_maintenance_proc()``), one by pgrecon. A "daily step" is what a night
brings — one partition ahead created, one past retention dropped; it is made to come due without
moving the clock by raising premake and lowering retention by one each step, for both tools.
Every figure is a whole process, as a scheduler runs it: ``psql -c "CALL
partman.run_maintenance_proc()"`` against ``python -m reconciler apply``; and a no-op (nothing due)
of each: pg_partman's maintenance again, ``pgrecon plan``. Medians of --repeat steps.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dev.testing import FAST_TEST_SETTINGS  # noqa: E402
from reconciler.commands.localserver import SYSTEM_BIN, LocalServer  # noqa: E402
from reconciler.connect.session import connect  # noqa: E402
from reconciler.engine.apply import ApplyOptions, run_apply  # noqa: E402
from reconciler.engine.planner import make_plan  # noqa: E402
from reconciler.resources.document import load_spec_text  # noqa: E402

WORK = ROOT / ".pgrecon" / "bench-partitions"
TABLE = "CREATE TABLE {} (id bigint, agent int, value float8, at timestamptz NOT NULL) PARTITION BY RANGE (at)"


def timed(argv: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    run = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env={**os.environ, **(env or {})})
    seconds = time.perf_counter() - started
    if run.returncode not in (0, 2):
        raise SystemExit(f"{' '.join(argv[:4])} failed ({run.returncode}):\n{run.stdout}\n{run.stderr}")
    return seconds


def spec_file(premake: int, retention_days: int) -> Path:
    path = WORK / "partman-compare.yaml"
    path.write_text(f"version: 1\ntables:\n  public.events_pgrecon:\n    partitioning: {{column: at, interval: day, "
                    f"premake: {premake}, premake_back: 0, retention: {retention_days} days, retention_action: drop, "
                    f"default_partition: true}}\n")
    return path


def compare_with_partman(repeat: int) -> None:
    if not Path(SYSTEM_BIN.format(major=15), "postgres").exists():
        raise SystemExit("PostgreSQL 15 binaries are needed (Debian's postgresql-15)")
    server = LocalServer.system(15, WORK / "pg15", {**FAST_TEST_SETTINGS})
    server.destroy()
    server.start()
    dsn = server.dsn()
    psql = [str(Path(SYSTEM_BIN.format(major=15), "psql")), dsn, "-q", "-c"]
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE SCHEMA partman")
            conn.execute("CREATE EXTENSION pg_partman SCHEMA partman")
            version = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'pg_partman'").fetchone()[0]
            for table in ("events_partman", "events_pgrecon"):
                conn.execute(TABLE.format(table))
            conn.execute("SELECT partman.create_parent('public.events_partman', 'at', 'native', 'daily', "
                         "p_premake := 4)")
            conn.execute("UPDATE partman.part_config SET retention = '7 days', retention_keep_table = false, "
                         "infinite_time_partitions = true WHERE parent_table = 'public.events_partman'")
            conn.execute("CALL partman.run_maintenance_proc()")
            premake, retention = 4, 7
            assert timed([sys.executable, "-m", "reconciler", "apply", "-f", str(spec_file(premake, retention)),
                          "--dsn", dsn, "--allow-hazards", "partition-drop"]) > 0
            now = datetime.now(UTC)
            for table in ("events_partman", "events_pgrecon"):   # the same rows: the last week, every 10 minutes
                conn.execute(f"INSERT INTO {table} (id, agent, value, at) SELECT g, g %% 50, random(), "
                             f"%s - g * interval '10 minutes' FROM generate_series(0, 6 * 24 * 6) g", (now,))
        steps: dict[str, list[float]] = {"partman": [], "pgrecon": [], "partman-noop": [], "pgrecon-noop": []}
        for _ in range(repeat):
            premake, retention = premake + 1, retention - 1
            if retention < 2:
                break
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("UPDATE partman.part_config SET premake = %s, retention = %s "
                             "WHERE parent_table = 'public.events_partman'", (premake, f"{retention} days"))
            steps["partman"].append(timed(psql + ["CALL partman.run_maintenance_proc()"]))
            path = spec_file(premake, retention)
            steps["pgrecon"].append(timed([sys.executable, "-m", "reconciler", "apply", "-f", str(path), "--dsn", dsn,
                                           "--allow-hazards", "partition-drop"]))
            steps["partman-noop"].append(timed(psql + ["CALL partman.run_maintenance_proc()"]))
            steps["pgrecon-noop"].append(timed([sys.executable, "-m", "reconciler", "plan", "-f", str(path), "--dsn",
                                                dsn]))
        with psycopg.connect(dsn) as conn:
            counts = conn.execute(
                "SELECT (SELECT count(*) FROM pg_inherits WHERE inhparent = 'events_partman'::regclass), "
                "(SELECT count(*) FROM pg_inherits WHERE inhparent = 'events_pgrecon'::regclass)").fetchone()
        print(f"# partition_daily on {platform.node()} ({platform.machine()}, {os.cpu_count()} cores), "
              f"PostgreSQL {server.major()}, pg_partman {version}, {date.today()}; partitions at the end: "
              f"pg_partman {counts[0]}, pgrecon {counts[1]}")
        print("| run (whole process, median) | pg_partman `run_maintenance_proc()` | `pgrecon` | ratio |")
        print("|---|---:|---:|---:|")
        daily = statistics.median(steps["pgrecon"]) / statistics.median(steps["partman"])
        noop = statistics.median(steps["pgrecon-noop"]) / statistics.median(steps["partman-noop"])
        print(f"| daily step: create one, drop one | {statistics.median(steps['partman']) * 1000:.0f} ms | "
              f"{statistics.median(steps['pgrecon']) * 1000:.0f} ms (`apply`) | {daily:.1f}× |")
        print(f"| nothing due | {statistics.median(steps['partman-noop']) * 1000:.0f} ms | "
              f"{statistics.median(steps['pgrecon-noop']) * 1000:.0f} ms (`plan`) | {noop:.1f}× |")
    finally:
        server.stop()


def many_partitions(partitions: int, repeat: int) -> None:
    """In-process plan and apply of one day with ``partitions`` partitions present (PostgreSQL 18)."""
    server = LocalServer.embedded(WORK / "pg18", {**FAST_TEST_SETTINGS, "max_locks_per_transaction": "1024"})
    server.destroy()
    server.start()
    dsn = server.dsn()
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(TABLE.format("m"))
            version = conn.execute("SHOW server_version").fetchone()[0]
        text = (f"version: 1\ntables:\n  public.m:\n    partitioning: {{column: at, interval: day, premake: 7, "
                f"retention: {partitions - 8} days, start: 2024-01-01}}\n"
                f"    indexes:\n      - {{name: m_agent_at, columns: [agent, \"at DESC\"]}}\n")
        spec = load_spec_text(text)
        allow = ApplyOptions(allow_hazards=frozenset({"partition-detach"}))
        now = datetime(2024, 1, 1, 12, tzinfo=UTC) + timedelta(days=partitions - 8)
        started = time.perf_counter()
        run_apply(dsn, spec, options=allow, now=now)
        setup = time.perf_counter() - started
        plans, applies = [], []
        for day in range(1, repeat + 1):
            at = now + timedelta(days=day)
            with connect(dsn) as conn:
                t = time.perf_counter()
                make_plan(conn, spec, now=at)
                plans.append(time.perf_counter() - t)
            t = time.perf_counter()
            run_apply(dsn, spec, options=allow, now=at)
            applies.append(time.perf_counter() - t)
        print(f"# {platform.node()}, PostgreSQL {version}, {date.today()}: {partitions} partitions created in "
              f"{setup:.1f}s; one day (in process, median of {repeat}): plan {statistics.median(plans) * 1000:.0f} ms, "
              f"apply {statistics.median(applies) * 1000:.0f} ms")
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--many", type=int, help="partitions present (PostgreSQL 18, in process)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    if args.many:
        many_partitions(args.many, args.repeat)
    else:
        compare_with_partman(args.repeat)


if __name__ == "__main__":
    main()
