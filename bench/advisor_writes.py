"""Does ``pgrecon advise`` weigh writes? A write-heavy workload on the schema of
``bench/advisor_quality.py``, measured against a reference that minimises *measured* total time
(run by hand; results go in README).

    python bench/advisor_writes.py --scale 0.2        # about 10 minutes

The read shapes of ``advisor_quality.py`` at a quarter of their frequency, and writes that batch
as an application's jobs do — new orders 100 at a time, their items, pending orders shipped (an
UPDATE of ``status``, a good read key), a category re-priced (``price``, another), customers
moving (``country``) — so that, with the read-optimal index set in place, most of the time goes to
the writes. Every measured run starts from the same copy of the database (a template), builds its
index set, warms up, and runs the same seeded sequence.

Sets compared: the baseline (primary keys), ``advise`` with defaults (``write_weight: 1``, no
write limit), ``advise`` with ``max_write_slowdown: 1.5``, ``advise`` reading only (``write_weight:
0``), and the reference: the union of the advise sets and the read-only brute force of
``advisor_quality.py`` as the pool, searched on *measured* runs: from the faster of the default
and read-only sets, each of its indexes taken out, then each other index of the pool put in, every
change kept that makes the measured total time fall — a local search on real runs, never worse
than where it started.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from datetime import date
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from advisor_quality import (
    FAST_TEST_SETTINGS,
    NOW,
    WORK,
    LocalServer,
    Run,
    Shape,
    load,
    reference_set,
    run_workload,
    shapes,
)

from reconciler.commands.advise.advisor import run_advise
from reconciler.connect.session import connect
from reconciler.render import render_statement
from reconciler.resources.document import load_spec_text

COUNTRIES = ["DE", "FR", "GB", "NL", "SE"]


def write_shapes(n: dict[str, int], first_order: int) -> list[Shape]:
    """Writes in batches; a fresh list for every run (the id counters start again at
    ``first_order``: the warm-up's orders and the measured run's never collide)."""
    state = {"order": first_order}

    def order_batch(r: random.Random) -> tuple:
        start = state["order"]
        state["order"] += 100
        return (n["customers"], NOW, start, start + 99)

    def items(r: random.Random) -> tuple:
        order = first_order + int(r.random() * max(1, state["order"] - first_order))
        return (order, n["products"])

    def ship(r: random.Random) -> tuple:
        start = 1 + int(r.random() * (n["orders"] - 300))
        return (start, start + 300)

    return [
        Shape("new orders, 100 at a time",
              "INSERT INTO orders (id, customer_id, status, channel, created_at, total) "
              "SELECT g, 1 + (g::int8 * 7919) %% %s, 'pending', 'web', %s::timestamptz, 10 "
              "FROM generate_series(%s, %s) g",
              200, order_batch),
        Shape("their items", "INSERT INTO order_items (order_id, line, product_id, quantity, unit_price) "
              "SELECT %s, 100 + g, 1 + (g * 31) %% %s, 1, 9.99 FROM generate_series(1, 20) g "
              "ON CONFLICT DO NOTHING", 200, items),
        Shape("ship pending orders", "UPDATE orders SET status = CASE status WHEN 'pending' THEN 'shipped' "
              "WHEN 'shipped' THEN 'delivered' ELSE status END WHERE id BETWEEN %s AND %s", 150, ship),
        Shape("re-price a category", "UPDATE products SET price = price + 0.01 WHERE category_id = %s", 60,
              lambda r: (1 + int(200 * r.random() ** 2),)),
        Shape("customers move", "UPDATE customers SET country = %s WHERE id BETWEEN %s AND %s", 60,
              lambda r: (lambda s: (r.choice(COUNTRIES), s, s + 200))(1 + int(r.random() * (n["customers"] - 200)))),
    ]


def workload(n: dict[str, int], warm: bool = False) -> list[Shape]:
    reads = shapes(n)
    for s in reads:
        s.weight = max(1, s.weight // 4)
    return reads + write_shapes(n, n["orders"] + 1 + (5_000_000 if warm else 0))


def restore(server: LocalServer) -> str:
    with psycopg.connect(server.dsn(), autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS shop WITH (FORCE)")
        admin.execute("CREATE DATABASE shop TEMPLATE shop_template")
    return server.dsn("shop")


def advise_set(dsn: str, advisor: str) -> tuple[list[str], dict]:
    spec = load_spec_text(f"version: 1\nextensions: [pg_trgm]\nadvisor: {advisor}\n",
                          "bench.yaml")
    with connect(dsn) as conn:
        started = time.perf_counter()
        advice = run_advise(conn, spec)
        seconds = time.perf_counter() - started
    statements = [render_statement("indexes/create_index", index=r.spec, name=r.name, table=r.candidate.table,
                                   concurrently=False, only=False) for r in advice.recommendations]
    return statements, {"seconds": round(seconds, 1), "solver": advice.workload.get("solver"),
                        "slowest_writes_estimated": advice.workload.get("slowest_writes"),
                        "recommendations": [{"definition": r.candidate.label(), "read_ms_per_hour":
                                             r.read_ms, "write_ms": r.write_ms} for r in advice.recommendations]}


def measured(server: LocalServer, n: dict[str, int], statements: list[str], executions: int, seed: int) -> Run:
    """The workload's time with exactly ``statements`` built, from the template's data, after the
    same seeded warm-up (whose writes every set sees alike)."""
    dsn = restore(server)
    with psycopg.connect(dsn, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)
        conn.execute("ANALYZE")
    run_workload(dsn, workload(n, warm=True), max(200, executions // 10), seed + 100, n)   # warm
    return run_workload(dsn, workload(n), executions, seed, n)


def write_share(run: Run, work: list[Shape]) -> float:
    writes = {s.name for s in work if s.sql.lstrip().upper().startswith(("INSERT", "UPDATE"))}
    total = sum(run.per_shape[k] * run.calls[k] for k in run.per_shape)
    return sum(run.per_shape[k] * run.calls[k] for k in run.per_shape if k in writes) / total if total else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.2)
    parser.add_argument("--executions", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    server = LocalServer.system(15, WORK / "pg15-writes", {**FAST_TEST_SETTINGS, "shared_buffers": "512MB",
                                                           "shared_preload_libraries": "pg_stat_statements",
                                                           "pg_stat_statements.max": "1000"})
    server.destroy()
    server.start()
    try:
        with psycopg.connect(server.dsn(), autocommit=True) as admin:
            admin.execute("CREATE DATABASE shop_template")
        with psycopg.connect(server.dsn("shop_template"), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION pg_stat_statements")
            conn.execute("CREATE EXTENSION pg_trgm")
            n = load(conn, args.scale)
        work = workload(n)
        # the baseline: what advise reads
        dsn = restore(server)
        run_workload(dsn, workload(n, warm=True), max(200, args.executions // 10), args.seed + 100, n)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SELECT pg_stat_statements_reset()")
        baseline = run_workload(dsn, workload(n), args.executions, args.seed, n)
        print(f"baseline {baseline.seconds:.1f}s", file=sys.stderr)
        weighed, weighed_info = advise_set(dsn, "{}")      # the defaults
        guarded, guarded_info = advise_set(dsn, "{max_write_slowdown: 1.5}")
        reads_only, reads_info = advise_set(dsn, "{write_weight: 0}")
        brute, _ = reference_set(dsn, [s for s in work if not s.sql.lstrip().upper().startswith(("INSERT", "UPDATE"))],
                                 args.seed)
        print(f"advise: {len(weighed)} weighed, {len(reads_only)} reads only; brute force {len(brute)}",
              file=sys.stderr)

        runs = {"weighed": measured(server, n, weighed, args.executions, args.seed),
                "guarded": measured(server, n, guarded, args.executions, args.seed),
                "reads only": measured(server, n, reads_only, args.executions, args.seed)}
        # the reference: a local search on measured runs, from the faster advise set: take each of
        # its indexes out, then put each other index any set proposed in, keeping every change
        # that makes the measured workload faster
        pool = list(dict.fromkeys(weighed + guarded + reads_only + brute))
        start = "weighed" if runs["weighed"].seconds <= runs["reads only"].seconds else "reads only"
        current = list(weighed if start == "weighed" else reads_only)
        best = runs[start]
        steps = 0
        moves = [("out", s) for s in list(current)] + [("in", s) for s in pool if s not in current]
        for kind, statement in moves:
            trial = [s for s in current if s != statement] if kind == "out" else current + [statement]
            run = measured(server, n, trial, args.executions, args.seed)
            steps += 1
            if run.seconds < best.seconds:
                current, best = trial, run
            print(f"  reference step {steps}: {len(current)} indexes, {best.seconds:.2f}s", file=sys.stderr)
        runs["reference"] = best
        with psycopg.connect(server.dsn("shop"), autocommit=True) as conn:
            size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
    finally:
        server.stop()

    def slowest(run: Run) -> tuple[str, float]:
        ratios = {k: run.per_shape[k] / baseline.per_shape[k] for k in run.per_shape if baseline.per_shape.get(k)}
        worst = max(ratios, key=lambda k: ratios[k])
        return worst, ratios[worst]

    rows = [("primary keys only", baseline, 0),
            ("advise, defaults (write_weight 1)", runs["weighed"], len(weighed)),
            ("advise, max_write_slowdown 1.5", runs["guarded"], len(guarded)),
            ("advise, reads only (write_weight 0, no write limit)", runs["reads only"], len(reads_only)),
            ("reference: local search on measured runs", runs["reference"], len(current))]
    print(f"write-heavy workload: {sum(n.values()):,} rows ({size}), {args.executions} executions, "
          f"{platform.machine()}, {date.today()}")
    print("| index set | indexes | workload time | time in writes | slowest statement vs baseline |")
    print("|---|--:|--:|--:|---|")
    for label, run, count in rows:
        name, ratio = slowest(run) if run is not baseline else ("-", 1.0)
        print(f"| {label} | {count} | {run.seconds:.2f} s | {100 * write_share(run, work):.0f}% | "
              f"{name}: {ratio:.2f}x |")
    ratio = runs["weighed"].seconds / runs["reference"].seconds
    print(f"\nadvise (defaults) / reference: {ratio:.2f}x (target <= 1.1x); reference built from {len(pool)} "
          f"indexes in {steps} measured steps")
    result = {"date": date.today().isoformat(), "scale": args.scale, "executions": args.executions,
              "ratio_to_reference": round(ratio, 2), "weighed": weighed_info, "guarded": guarded_info,
              "reads_only": reads_info,
              "reference": list(current), "seconds": {k: round(v.seconds, 3) for k, v in runs.items()},
              "baseline_seconds": round(baseline.seconds, 3),
              "write_share": {k: round(write_share(v, work), 3) for k, v in runs.items()},
              "per_shape_ms": {k: {name: round(ms, 3) for name, ms in v.per_shape.items()}
                               for k, v in {"baseline": baseline, **runs}.items()}}
    if args.out:
        args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(json.dumps(result, indent=2, default=str), file=sys.stderr)


if __name__ == "__main__":
    main()
