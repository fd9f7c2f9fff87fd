"""Time of one daily partition run with many partitions present (run by hand; results in README).

    python bench/partition_daily.py --partitions 400

A table partitioned by day with --partitions partitions (retention just covering them, premake 7,
a default partition, an index on the parent), then one simulated day later: `apply` creates the
new day and detaches the oldest. Prints the median of --repeat days for plan alone and for apply.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reconciler.apply import ApplyOptions, run_apply
from reconciler.connection import connect
from reconciler.localserver import FAST_TEST_SETTINGS, LocalServer
from reconciler.plan.make import make_plan
from reconciler.spec import load_spec_text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    server = LocalServer.embedded(Path(".pgrecon/bench-partitions"), {**FAST_TEST_SETTINGS,
                                                                     "max_locks_per_transaction": "1024"})
    server.destroy()
    server.start()
    dsn = server.dsn()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE m (agent int, value float8, at timestamptz NOT NULL) PARTITION BY RANGE (at)")
        version = conn.execute("SHOW server_version").fetchone()[0]
    n = args.partitions
    text = (f"version: 1\ntables:\n  public.m:\n    partitioning: {{column: at, interval: day, premake: 7, "
            f"retention: {n - 8} days, start: 2024-01-01}}\n"
            f"    indexes:\n      - {{name: m_agent_at, columns: [agent, \"at DESC\"]}}\n")
    spec = load_spec_text(text)
    allow = ApplyOptions(allow_hazards=frozenset({"partition-detach", "table-lock"}))
    now = datetime(2024, 1, 1, 12, tzinfo=UTC) + timedelta(days=n - 8)
    started = time.perf_counter()
    run_apply(dsn, spec, options=allow, now=now)
    setup = time.perf_counter() - started
    with psycopg.connect(dsn) as conn:
        count = conn.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = 'm'::regclass").fetchone()[0]
    plans, applies = [], []
    for day in range(1, args.repeat + 1):
        at = now + timedelta(days=day)
        with connect(dsn) as conn:
            t = time.perf_counter()
            plan = make_plan(conn, spec, now=at)
            plans.append(time.perf_counter() - t)
        assert [c.action for c in plan.changes] == ["create", "detach"], [c.action for c in plan.changes]
        t = time.perf_counter()
        result = run_apply(dsn, spec, options=allow, now=at)
        applies.append(time.perf_counter() - t)
        assert result.in_sync
    print(f"# partition_daily on {platform.node()} ({platform.machine()}, {__import__('os').cpu_count()} cores), "
          f"PostgreSQL {version}, {date.today()}")
    print(f"first apply creating {count} partitions: {setup:.1f} s")
    print("| partitions | plan (median) | daily apply: create 1 + detach 1 + verify (median) |")
    print("|---:|---:|---:|")
    print(f"| {count} | {statistics.median(plans) * 1000:.0f} ms | {statistics.median(applies) * 1000:.0f} ms |")
    server.stop()


if __name__ == "__main__":
    main()
