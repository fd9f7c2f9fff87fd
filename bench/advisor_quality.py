"""How good is ``pgrecon advise``? Measured against a brute-force search (run by hand; results go
in README).

    python bench/advisor_quality.py                  # the whole comparison (about 10 minutes)
    python bench/advisor_quality.py --scale 0.2      # a quick, smaller run

An e-commerce database of its own (customers, products, orders, order items, reviews: about
1.7 million rows at scale 1) on the system PostgreSQL 15 with HypoPG, and a workload of 22
statement shapes with skewed frequencies and skewed parameter values (a few customers order
most, one country and one order status dominate, recent dates are asked for most), run through
psycopg with parameters (so psycopg prepares the frequent ones on the server, and PostgreSQL's
plan cache may pick generic plans, as in production). The same seeded workload runs with:

1. primary keys only (the baseline; its pg_stat_statements are what the advisor reads);
2. the indexes ``pgrecon advise`` recommends with default settings;
3. the reference: a greedy brute-force search with HypoPG over every 1–3-column btree on the
   columns each table's statements use (every order of them), costed with custom plans at
   parameter values sampled from the workload itself, adding while an index saves 0.1% of
   the workload's cost.

Recorded per set: workload time, statements at least 2x faster / slower than the baseline, and
(for pgrecon's set) every recommended index whose removal changes no statement's plan.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dev.testing import FAST_TEST_SETTINGS  # noqa: E402
from reconciler.commands.advise.advisor import run_advise  # noqa: E402
from reconciler.commands.localserver import LocalServer  # noqa: E402
from reconciler.connect.session import connect  # noqa: E402
from reconciler.render import render_statement  # noqa: E402
from reconciler.resources.document import load_spec_text  # noqa: E402

WORK = ROOT / ".pgrecon" / "bench-advisor"
NOW = datetime(2026, 11, 1, tzinfo=UTC)

SCHEMA = """
CREATE TABLE customers (id bigint PRIMARY KEY, email text NOT NULL, name text NOT NULL, country text NOT NULL,
                        segment text NOT NULL, created_at timestamptz NOT NULL);
CREATE TABLE products (id bigint PRIMARY KEY, sku text NOT NULL, title text NOT NULL, category_id int NOT NULL,
                       price numeric(10,2) NOT NULL, attributes jsonb NOT NULL, active boolean NOT NULL);
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL, status text NOT NULL, channel text NOT NULL,
                     created_at timestamptz NOT NULL, total numeric(12,2) NOT NULL);
CREATE TABLE order_items (order_id bigint NOT NULL, line int NOT NULL, product_id bigint NOT NULL,
                          quantity int NOT NULL, unit_price numeric(10,2) NOT NULL, PRIMARY KEY (order_id, line));
CREATE TABLE reviews (id bigint PRIMARY KEY, product_id bigint NOT NULL, customer_id bigint NOT NULL,
                      rating int NOT NULL, created_at timestamptz NOT NULL, body text NOT NULL);
"""

COUNTRIES = ["DE", "FR", "GB", "NL", "SE", "PL", "IT", "ES", "CA", "MX", "BR", "JP", "AU", "IN", "NO", "DK",
             "FI", "AT", "CH", "BE"]
COLORS = ["red", "blue", "green", "black", "white", "grey", "yellow", "pink", "brown", "navy", "teal", "gold"]


def load(conn: psycopg.Connection, scale: float) -> dict[str, int]:
    n = {"customers": int(100_000 * scale), "products": int(20_000 * scale), "orders": int(400_000 * scale),
         "reviews": int(150_000 * scale)}
    conn.execute(SCHEMA)
    conn.execute("SELECT setseed(0.42)")
    conn.execute("""
        INSERT INTO customers
        SELECT g, 'user' || g || '@' || (CASE WHEN random() < 0.6 THEN 'gmail.com' ELSE 'mail' || (g %% 50) || '.org'
                                         END),
               'Customer ' || g,
               CASE WHEN random() < 0.85 THEN 'US' ELSE (%(countries)s::text[])[1 + (random() * 19)::int] END,
               CASE WHEN random() < 0.9 THEN 'consumer' ELSE 'business' END,
               %(now)s::timestamptz - (random() * 1095) * interval '1 day'
        FROM generate_series(1, %(n)s) g""", {"n": n["customers"], "countries": COUNTRIES, "now": NOW})
    conn.execute("""
        INSERT INTO products
        SELECT g, upper(substr(md5(g::text), 1, 10)), 'Product ' || g || ' ' || md5((g * 3)::text),
               1 + floor(200 * power(random(), 2))::int, round((1 + random() * 499)::numeric, 2),
               jsonb_build_object('color', (%(colors)s::text[])[1 + (random() * 11)::int],
                                  'size', (ARRAY['XS','S','M','L','XL'])[1 + (random() * 4)::int],
                                  'brand', 'b' || floor(300 * power(random(), 2))::int),
               random() < 0.95
        FROM generate_series(1, %(n)s) g""", {"n": n["products"], "colors": COLORS})
    conn.execute("""
        INSERT INTO orders
        SELECT g, 1 + floor(%(customers)s * power(random(), 3))::bigint,
               CASE WHEN r < 0.85 THEN 'delivered' WHEN r < 0.91 THEN 'shipped' WHEN r < 0.96 THEN 'pending'
                    WHEN r < 0.99 THEN 'cancelled' ELSE 'returned' END,
               CASE WHEN random() < 0.6 THEN 'web' WHEN random() < 0.875 THEN 'app' ELSE 'phone' END,
               %(now)s::timestamptz - ((%(n)s - g)::float8 / %(n)s * 730) * interval '1 day',
               round((5 + random() * 995)::numeric, 2)
        FROM (SELECT g, random() AS r FROM generate_series(1, %(n)s) g) s""",
                 {"n": n["orders"], "customers": n["customers"], "now": NOW})
    conn.execute("""
        INSERT INTO order_items
        SELECT o.id, l, 1 + floor(%(products)s * power(random(), 2.5))::bigint, 1 + (random() * 3)::int,
               round((1 + random() * 499)::numeric, 2)
        FROM orders o, generate_series(1, 1 + (o.id %% 4)::int) l""", {"products": n["products"]})
    conn.execute("""
        INSERT INTO reviews
        SELECT g, 1 + floor(%(products)s * power(random(), 2.5))::bigint, 1 + floor(%(customers)s * random())::bigint,
               CASE WHEN random() < 0.6 THEN 5 ELSE 1 + (random() * 3)::int END,
               %(now)s::timestamptz - (random() * 730) * interval '1 day', md5(g::text) || md5((g * 7)::text)
        FROM generate_series(1, %(n)s) g""",
                 {"n": n["reviews"], "products": n["products"], "customers": n["customers"], "now": NOW})
    conn.execute("VACUUM ANALYZE")
    counts = {t: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t))).fetchone()[0]
              for t in ("customers", "products", "orders", "order_items", "reviews")}
    return counts


# ---------------------------------------------------------------- the workload


@dataclass
class Shape:
    name: str
    sql: str
    weight: int
    params: Callable[[random.Random], tuple]
    columns: dict[str, list[str]] = field(default_factory=dict)   # what the reference may index
    forms: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = field(default_factory=list)  # and these


def shapes(n: dict[str, int]) -> list[Shape]:
    customers, products, orders = n["customers"], n["products"], n["orders"]

    def customer(rng: random.Random) -> int:            # a few customers are most of the traffic
        return 1 + int(customers * rng.random() ** 3)

    def product(rng: random.Random) -> int:
        return 1 + int(products * rng.random() ** 2.5)

    def email_prefix(rng: random.Random) -> str:  # the domain is random in the data: searched by prefix
        return f"user{customer(rng)}@"

    def recent(rng: random.Random, days: float) -> datetime:
        return NOW - timedelta(days=rng.random() * days)

    def status(rng: random.Random) -> str:
        return "pending" if rng.random() < 0.7 else rng.choice(["shipped", "cancelled", "returned"])

    def country(rng: random.Random) -> str:
        return "US" if rng.random() < 0.8 else rng.choice(COUNTRIES)

    def sku_prefix(rng: random.Random) -> str:
        return "".join(rng.choice("0123456789ABCDEF") for _ in range(3)) + "%"

    return [
        Shape("customer by email", "SELECT id, name, country FROM customers WHERE email LIKE %s", 300,
              lambda r: (email_prefix(r) + "%",), {"customers": ["email"]},
              [("customers", ("email text_pattern_ops",), ())]),
        Shape("orders of a customer by email",
              "SELECT o.id, o.status, o.total FROM customers c JOIN orders o ON o.customer_id = c.id "
              "WHERE c.email = %s ORDER BY o.created_at DESC LIMIT 20", 120,
              lambda r: (f"user{customer(r)}@gmail.com",), {"customers": ["email"], "orders": [
                  "customer_id", "created_at"]}),
        Shape("recent orders of a customer",
              "SELECT id, status, total, created_at FROM orders WHERE customer_id = %s ORDER BY created_at DESC "
              "LIMIT 10", 400, lambda r: (customer(r),), {"orders": ["customer_id", "created_at"]}),
        Shape("orders in a status since", "SELECT count(*) FROM orders WHERE status = %s AND created_at >= %s", 100,
              lambda r: (status(r), recent(r, 30)), {"orders": ["status", "created_at"]}),
        Shape("order statuses today", "SELECT status, count(*) FROM orders WHERE created_at >= %s GROUP BY status",
              60, lambda r: (recent(r, 1),), {"orders": ["created_at", "status"]}),
        Shape("items of an order", "SELECT product_id, quantity, unit_price FROM order_items WHERE order_id = %s", 300,
              lambda r: (1 + int(orders * r.random()),), {"order_items": ["order_id"]}),
        Shape("units sold of a product", "SELECT sum(quantity) FROM order_items WHERE product_id = %s", 100,
              lambda r: (product(r),), {"order_items": ["product_id"]},
              [("order_items", ("product_id",), ("quantity",))]),
        Shape("cheap products of a category",
              "SELECT id, title, price FROM products WHERE category_id = %s AND price < %s ORDER BY price LIMIT 20",
              150, lambda r: (1 + int(200 * r.random() ** 2), 20 + r.random() * 80),
              {"products": ["category_id", "price"]}),
        Shape("products by SKU prefix", "SELECT id, sku, title FROM products WHERE sku LIKE %s", 100,
              lambda r: (sku_prefix(r),), {"products": ["sku"]}, [("products", ("sku text_pattern_ops",), ())]),
        Shape("products with an attribute", "SELECT id, title FROM products WHERE attributes @> %s::jsonb LIMIT 50",
              60, lambda r: (json.dumps({"brand": f"b{int(300 * r.random() ** 0.5)}"}),), {}),
        Shape("latest reviews of a product",
              "SELECT rating, body FROM reviews WHERE product_id = %s ORDER BY created_at DESC LIMIT 5", 200,
              lambda r: (product(r),), {"reviews": ["product_id", "created_at"]}),
        Shape("rating of a product", "SELECT avg(rating)::float8, count(*) FROM reviews WHERE product_id = %s", 150,
              lambda r: (product(r),), {"reviews": ["product_id"]}),
        Shape("reviews by a customer", "SELECT count(*) FROM reviews WHERE customer_id = %s", 60,
              lambda r: (customer(r),), {"reviews": ["customer_id"]}),
        Shape("phone orders in a window",
              "SELECT id, total FROM orders WHERE channel = %s AND created_at BETWEEN %s AND %s ORDER BY created_at",
              60, lambda r: (lambda s: ("phone" if r.random() < 0.7 else "app", s, s + timedelta(days=1)))(
                  recent(r, 60)), {"orders": ["channel", "created_at"]}),
        Shape("new customers in a country", "SELECT count(*) FROM customers WHERE country = %s AND created_at >= %s",
              50, lambda r: (country(r), recent(r, 30)), {"customers": ["country", "created_at"]}),
        Shape("order status update", "UPDATE orders SET status = %s WHERE id = %s", 200,
              lambda r: (r.choice(["shipped", "delivered"]), 1 + int(orders * r.random())), {}),
        Shape("new order item", "INSERT INTO order_items (order_id, line, product_id, quantity, unit_price) "
              "VALUES (%s, %s, %s, %s, %s)", 200, lambda r: None, {}),
        Shape("best sellers of a category",
              "SELECT p.id, p.title, sum(oi.quantity) AS sold FROM products p JOIN order_items oi "
              "ON oi.product_id = p.id WHERE p.category_id = %s GROUP BY p.id, p.title ORDER BY sold DESC LIMIT 10",
              30, lambda r: (1 + int(200 * r.random() ** 2),), {"products": ["category_id"],
                                                               "order_items": ["product_id"]},
              [("order_items", ("product_id",), ("quantity",))]),
        Shape("oldest pending orders",
              "SELECT id, customer_id, total FROM orders WHERE status = 'pending' AND created_at < %s "
              "ORDER BY created_at LIMIT 100", 40, lambda r: (recent(r, 700),), {"orders": ["status", "created_at"]}),
        Shape("customer by email, any case", "SELECT id, email FROM customers WHERE lower(email) = lower(%s)", 80,
              lambda r: (f"USER{customer(r)}@GMAIL.COM",), {"customers": ["email"]},
              [("customers", ("(lower(email))",), ())]),
        Shape("largest orders above", "SELECT id, total FROM orders WHERE total > %s ORDER BY total DESC LIMIT 20",
              30, lambda r: (900 + r.random() * 90,), {"orders": ["total"]}),
        Shape("orders per country this week",
              "SELECT c.country, count(*) FROM orders o JOIN customers c ON c.id = o.customer_id "
              "WHERE o.created_at >= %s GROUP BY c.country", 20, lambda r: (recent(r, 7),),
              {"orders": ["created_at", "customer_id"], "customers": ["id", "country"]}),
    ]


@dataclass
class Run:
    seconds: float
    per_shape: dict[str, float]     # mean ms per execution
    calls: dict[str, int]


def run_workload(dsn: str, work: list[Shape], executions: int, seed: int, n: dict[str, int]) -> Run:
    rng = random.Random(seed)
    weights = [s.weight for s in work]
    sequence = rng.choices(range(len(work)), weights=weights, k=executions)
    totals: dict[str, float] = {s.name: 0.0 for s in work}
    calls: dict[str, int] = {s.name: 0 for s in work}
    line = 100
    with psycopg.connect(dsn, autocommit=True) as conn:
        started = time.perf_counter()
        for index in sequence:
            shape = work[index]
            params = shape.params(rng)
            if params is None:  # the insert: a new line of an existing order
                line += 1
                params = (1 + int(n["orders"] * rng.random()), line, 1 + int(n["products"] * rng.random() ** 2.5),
                          1, 9.99)
            t0 = time.perf_counter()
            cur = conn.execute(shape.sql, params)
            if cur.description is not None:
                cur.fetchall()
            totals[shape.name] += time.perf_counter() - t0
            calls[shape.name] += 1
        seconds = time.perf_counter() - started
        conn.execute("SET pg_stat_statements.track = none")  # the clean-up is not part of the workload
        conn.execute("DELETE FROM order_items WHERE line > 99")
        conn.execute("VACUUM ANALYZE order_items")
    return Run(seconds, {k: 1000 * v / calls[k] for k, v in totals.items() if calls[k]}, calls)


# ---------------------------------------------------------------- index sets


def create_indexes(conn: psycopg.Connection, statements: list[str]) -> None:
    for statement in statements:
        conn.execute(statement)
    conn.execute("ANALYZE")


def drop_indexes(conn: psycopg.Connection) -> None:
    rows = conn.execute("SELECT indexrelid::regclass::text FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
                        "AND NOT i.indisprimary").fetchall()
    for (name,) in rows:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))


def pgrecon_set(dsn: str) -> tuple[list[str], dict]:
    spec = load_spec_text("version: 1\nextensions: [pg_trgm]\n", "bench.yaml")
    with connect(dsn) as conn:
        started = time.perf_counter()
        advice = run_advise(conn, spec)
        seconds = time.perf_counter() - started
    statements, names = [], []
    for rec in advice.recommendations:
        statements.append(render_statement("indexes/create_index", index=rec.spec, name=rec.name,
                                           table=rec.candidate.table, concurrently=False, only=False))
        names.append({"name": rec.name, "definition": rec.candidate.label(), "verified_by": rec.verified_by,
                      "helps": len(rec.helps)})
    return statements, {"seconds": round(seconds, 1), "recommendations": names, "workload": advice.workload,
                        "dropped": advice.dropped}


def _explain_cost(conn: psycopg.Connection, name: str, values: tuple) -> float:
    args = sql.SQL(", ").join(sql.Literal(v) for v in values)
    row = conn.execute(sql.SQL("EXPLAIN (FORMAT JSON) EXECUTE {}({})").format(sql.Identifier(name), args)).fetchone()
    return float(row[0][0]["Plan"]["Total Cost"])


def reference_set(dsn: str, work: list[Shape], seed: int, samples: int = 4,
                  min_saving: float = 0.001, limit: int = 25) -> tuple[list[str], dict]:
    """Greedy brute force: every 1-3 column btree (every order) over the columns each table's
    statements use, costed by custom plans at parameter values the workload really sends."""
    rng = random.Random(seed + 1)
    weights = {s.name: s.weight for s in work}
    total_weight = sum(weights.values())
    costed = [s for s in work if s.columns and s.params(random.Random(0)) is not None]
    columns: dict[str, set[str]] = {}
    for s in costed:
        for table, cols in s.columns.items():
            columns.setdefault(table, set()).update(cols)
    candidates = [(t, combo, ()) for t, cols in sorted(columns.items())
                  for k in (1, 2, 3) for combo in itertools.permutations(sorted(cols), k)]
    candidates += sorted({form for s in costed for form in s.forms})
    with psycopg.connect(dsn) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS hypopg")
        conn.execute("SET plan_cache_mode = force_custom_plan")
        values: dict[str, list[tuple]] = {}
        for i, s in enumerate(costed):
            conn.execute(sql.SQL("PREPARE {} AS ").format(sql.Identifier(f"ref{i}")) +
                         sql.SQL(s.sql.replace("%s", "${}").format(*range(1, s.sql.count("%s") + 1))))
            values[s.name] = [s.params(rng) for _ in range(samples)]
        cache: dict[tuple, float] = {}
        live: dict[tuple, int] = {}

        def cost(i: int, chosen: frozenset) -> float:
            s = costed[i]
            relevant = frozenset(c for c in chosen if c[0] in s.columns)
            key = (i, relevant)
            if key not in cache:
                for c in [c for c in live if c[0] in s.columns and c not in relevant]:
                    conn.execute("SELECT hypopg_drop_index(%s)", (live.pop(c),))
                for c in relevant - set(live):
                    ddl = _ddl(c)
                    live[c] = conn.execute("SELECT indexrelid FROM hypopg_create_index(%s)", (ddl,)).fetchone()[0]
                cache[key] = statistics.fmean(_explain_cost(conn, f"ref{i}", v) for v in values[s.name])
            return cache[key]

        def workload_cost(chosen: frozenset, tables: set[str] | None = None) -> float:
            return sum(weights[s.name] / total_weight * cost(i, chosen) for i, s in enumerate(costed)
                       if tables is None or set(s.columns) & tables)

        chosen: frozenset = frozenset()
        base = workload_cost(chosen)
        current = base
        started = time.perf_counter()
        while len(chosen) < limit:
            best, best_c = 0.0, None
            for c in candidates:
                if c in chosen:
                    continue
                gain = workload_cost(chosen, {c[0]}) - workload_cost(chosen | {c}, {c[0]})
                if gain > best:
                    best, best_c = gain, c
            if best_c is None or best < min_saving * base:
                break
            chosen = chosen | {best_c}
            current -= best
        seconds = time.perf_counter() - started
        conn.execute("SELECT hypopg_reset()")
        conn.execute("DEALLOCATE ALL")
    ordered = sorted(chosen)
    return [_ddl(c) for c in ordered], {"seconds": round(seconds, 1), "candidates": len(candidates),
                                        "plans": len(cache), "indexes": [_ddl(c)[16:] for c in ordered],
                 "cost_before": round(base, 1), "cost_after": round(current, 1)}


def _ddl(candidate: tuple) -> str:
    """CREATE INDEX for a reference candidate: (table, keys, include); the texts are the bench's own."""
    table, keys, include = candidate
    return f"CREATE INDEX ON {table} ({', '.join(keys)})" + (f" INCLUDE ({', '.join(include)})" if include else "")


def plan_signature(conn: psycopg.Connection, statement: str, values: tuple) -> str:
    row = conn.execute(sql.SQL("EXPLAIN (FORMAT JSON, COSTS OFF) ") + sql.SQL(statement.replace("%s", "{}")).format(
        *[sql.Literal(v) for v in values])).fetchone()
    return json.dumps(row[0][0]["Plan"], sort_keys=True)


def useless_indexes(dsn: str, work: list[Shape], names: list[str], seed: int, samples: int = 4) -> list[str]:
    """Recommended indexes (built for real) whose removal changes no statement's plan, at sampled
    values, custom and generic plans alike."""
    rng = random.Random(seed + 2)
    sampled = [(s, [s.params(rng) for _ in range(samples)]) for s in work if s.params(random.Random(0)) is not None]
    useless = []
    with psycopg.connect(dsn) as conn:
        def signatures() -> list[str]:
            out = []
            for s, values in sampled:
                out += [plan_signature(conn, s.sql, v) for v in values]
                prepared = s.sql.replace("%s", "${}").format(*range(1, s.sql.count("%s") + 1))
                conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
                conn.execute(sql.SQL("PREPARE g AS ") + sql.SQL(prepared))
                nulls = sql.SQL(", ").join(sql.Literal(v) for v in values[0])
                row = conn.execute(sql.SQL("EXPLAIN (FORMAT JSON, COSTS OFF) EXECUTE g({})").format(nulls)).fetchone()
                out.append(json.dumps(row[0][0]["Plan"], sort_keys=True))
                conn.execute("DEALLOCATE g")
            return out

        with conn.transaction(force_rollback=True):
            base = signatures()
        for name in names:
            with conn.transaction(force_rollback=True):
                conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
                if signatures() == base:
                    useless.append(name)
    return useless


def compare(baseline: Run, other: Run) -> tuple[int, int, list[str]]:
    faster = slower = 0
    worse = []
    for name, ms in other.per_shape.items():
        before = baseline.per_shape.get(name)
        if before is None:
            continue
        if ms * 2 <= before:
            faster += 1
        elif ms >= 2 * before and ms - before > 0.2:  # 2x slower and more than 0.2 ms: not timer noise
            slower += 1
            worse.append(f"{name}: {before:.2f} -> {ms:.2f} ms")
    return faster, slower, worse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="data size (1: about 1.7 million rows)")
    parser.add_argument("--executions", type=int, default=3000, help="statements run per workload pass")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, help="write the results as JSON here too")
    args = parser.parse_args()

    server = LocalServer.system(15, WORK / "pg15", {**FAST_TEST_SETTINGS, "shared_preload_libraries":
                                                    "pg_stat_statements", "shared_buffers": "512MB",
                                                    "pg_stat_statements.max": "1000"})
    server.destroy()
    server.start()
    try:
        with psycopg.connect(server.dsn(), autocommit=True) as admin:
            admin.execute("CREATE DATABASE shop")
        dsn = server.dsn("shop")
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION pg_stat_statements")
            conn.execute("CREATE EXTENSION pg_trgm")
            started = time.perf_counter()
            counts = load(conn, args.scale)
            load_s = time.perf_counter() - started
        work = shapes(counts)
        print(f"loaded {sum(counts.values()):,} rows in {load_s:.0f}s: {counts}", file=sys.stderr)

        run_workload(dsn, work, max(200, args.executions // 10), args.seed + 100, counts)  # warm the caches
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SELECT pg_stat_statements_reset()")
        baseline = run_workload(dsn, work, args.executions, args.seed, counts)
        print(f"baseline {baseline.seconds:.1f}s", file=sys.stderr)

        ours, ours_info = pgrecon_set(dsn)
        print(f"pgrecon advise: {len(ours)} indexes in {ours_info['seconds']}s", file=sys.stderr)
        reference, ref_info = reference_set(dsn, work, args.seed)
        print(f"reference: {len(reference)} indexes in {ref_info['seconds']}s", file=sys.stderr)

        with psycopg.connect(dsn, autocommit=True) as conn:
            create_indexes(conn, ours)
        names = [r["name"] for r in ours_info["recommendations"]]
        useless = useless_indexes(dsn, work, names, args.seed)
        run_workload(dsn, work, max(200, args.executions // 10), args.seed + 100, counts)
        with_ours = run_workload(dsn, work, args.executions, args.seed, counts)
        with psycopg.connect(dsn, autocommit=True) as conn:
            drop_indexes(conn)
            create_indexes(conn, reference)
        run_workload(dsn, work, max(200, args.executions // 10), args.seed + 100, counts)
        with_reference = run_workload(dsn, work, args.executions, args.seed, counts)
        with psycopg.connect(dsn, autocommit=True) as conn:
            drop_indexes(conn)
            sizes = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
    finally:
        server.stop()

    rows = []
    for label, run, count in (("primary keys only", baseline, 0), ("pgrecon advise (defaults)", with_ours, len(ours)),
                              ("reference: greedy brute force (HypoPG)", with_reference, len(reference))):
        faster, slower, worse = compare(baseline, run) if run is not baseline else (0, 0, [])
        rows.append({"set": label, "indexes": count, "seconds": round(run.seconds, 2), "faster_2x": faster,
                     "slower_2x": slower, "slower": worse})
    ratio = with_ours.seconds / with_reference.seconds
    result = {"date": date.today().isoformat(), "machine": f"{platform.machine()}, {platform.system()}",
              "scale": args.scale, "rows": counts, "database_size": sizes, "executions": args.executions,
              "shapes": len(work), "table": rows, "ratio_to_reference": round(ratio, 2), "pgrecon": ours_info,
              "reference": ref_info, "useless_recommended": useless,
              "per_shape_ms": {s.name: {"baseline": round(baseline.per_shape.get(s.name, 0), 3),
                                        "pgrecon": round(with_ours.per_shape.get(s.name, 0), 3),
                                        "reference": round(with_reference.per_shape.get(s.name, 0), 3)}
                               for s in work}}
    print("| index set | indexes | workload time | statements >= 2x faster | statements >= 2x slower |")
    print("|---|--:|--:|--:|--:|")
    for row in rows:
        print(f"| {row['set']} | {row['indexes']} | {row['seconds']:.1f} s | {row['faster_2x'] or '-'} | "
              f"{row['slower_2x'] if row['indexes'] else '-'} |")
    print(f"\npgrecon / reference workload time: {ratio:.2f}x (target <= 1.5x); recommended indexes whose removal "
          f"changes no plan: {useless or 'none'}")
    text = json.dumps(result, indent=2, default=str)
    if args.out:
        args.out.write_text(text + "\n")
    print(text, file=sys.stderr)


if __name__ == "__main__":
    main()
