"""The advisor on real servers, behaviour by behaviour: the workload is every statement with a
share of the time (entries of one statement merged); the index set is chosen for the whole
workload with HypoPG (PostgreSQL 15), never making a statement worse; LIKE prefixes on a non-C
collation get text_pattern_ops; skewed columns are judged by the values the application asks
for; GIN candidates are unverified with HypoPG's own reason, or built in a rolled-back
transaction; PostgreSQL 18 (no HypoPG here) takes the heuristic path."""

from __future__ import annotations

import random

import psycopg

from reconciler.commands.advise.shape import analyse
from tests.pgtest import wait_for

SPEC = "version: 1\n"


def run(db, statements: list[tuple[str, object]], times: int = 1) -> None:
    """Run ``(sql, params-maker)`` pairs through psycopg with parameters, as an application does."""
    rng = random.Random(5)
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        for _ in range(times):
            for text, params in statements:
                conn.execute(text, params(rng) if callable(params) else params).fetchall()


def reset_statements(db) -> None:
    db.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    db.execute("SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = "
               "current_database()), 0)")


def advise(db, spec_file, *args, spec: str = SPEC):
    result = db.cli("advise", "--format", "json", *args, spec=spec_file(spec))
    assert result.exit_code == 0, result.stderr
    return result.json


def keys(rec: dict) -> list[str]:
    return [c if isinstance(c, str) else (c.get("column") or c.get("expression")) for c in rec["columns"]]


WIDE = "CREATE TABLE wide (id bigint PRIMARY KEY, {});\nINSERT INTO wide SELECT g, {} FROM generate_series(1, 30000) g;" \
       "\nANALYZE wide;"


def test_every_statement_with_a_share_of_the_time_counts_and_entries_of_one_statement_merge(db, spec_file):
    columns = [f"c{i}" for i in range(1, 15)]
    db.execute(WIDE.format(", ".join(f"{c} int" for c in columns),
                           ", ".join(f"(g * {i + 7}) % 20011" for i in range(len(columns)))))
    reset_statements(db)
    run(db, [(f"SELECT id FROM wide WHERE {c} = %s", lambda r: (r.randint(0, 20000),)) for c in columns], times=6)
    run(db, [("SELECT id FROM wide WHERE c1 = %s", (3,)), ("SELECT id FROM wide WHERE c1 = %s", (100000,))] * 3)
    entries = db.value("SELECT count(*) FROM pg_stat_statements WHERE query = 'SELECT id FROM wide WHERE c1 = $1'")
    assert entries == 2  # psycopg sent 3 as int2 and 100000 as int4: two entries of one statement

    advice = advise(db, spec_file)
    statements = {s["query"]: s for s in advice["statements"]}
    assert len(statements) == 14  # all of them, not the top 10
    merged = statements["SELECT id FROM wide WHERE c1 = $1"]
    assert len(merged["queryids"]) == 2 and merged["calls"] == 12
    served = {keys(r)[0] for r in advice["recommendations"]}
    assert served == set(columns)
    if db.major == 15:
        assert all(r["verified_by"] == "hypopg" and r["helps"] for r in advice["recommendations"])
    else:
        assert all(not r["verified"] and "no HypoPG" in r["unverified_reason"] for r in advice["recommendations"])


SHOP = """
CREATE TABLE customers (id bigint PRIMARY KEY, email text NOT NULL, country text NOT NULL);
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL, created_at timestamptz NOT NULL,
                     status text NOT NULL, total numeric NOT NULL);
INSERT INTO customers SELECT g, 'user' || g || '@example.org', CASE WHEN g % 10 < 8 THEN 'US' ELSE 'DE' END
FROM generate_series(1, 20000) g;
INSERT INTO orders SELECT g, 1 + (g * 7919) % 20000, '2026-01-01'::timestamptz + g * interval '5 minutes',
       (ARRAY['done','new','paid','sent'])[1 + g % 4], g % 1000
FROM generate_series(1, 100000) g;
ANALYZE customers, orders;
"""


def test_the_index_set_is_chosen_for_the_whole_workload(db_on, spec_file):
    db = db_on("15")
    db.execute(SHOP)
    reset_statements(db)
    run(db, [
        ("SELECT o.id, o.total FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.email = %s",
         lambda r: (f"user{r.randint(1, 20000)}@example.org",)),
        ("SELECT id FROM orders WHERE customer_id = %s", lambda r: (r.randint(1, 20000),)),
        ("SELECT id FROM orders WHERE customer_id = %s AND created_at >= %s",
         lambda r: (r.randint(1, 20000), "2026-06-01")),
        ("SELECT status, count(*) FROM orders WHERE created_at >= %s GROUP BY status", ("2026-10-01",)),
        ("SELECT id FROM orders WHERE status = %s AND customer_id = %s ORDER BY created_at DESC LIMIT 5",
         lambda r: ("new", r.randint(1, 20000))),
    ], times=8)
    advice = advise(db, spec_file)
    recs = advice["recommendations"]
    by_table: dict[str, list[list[str]]] = {}
    for rec in recs:
        assert rec["verified_by"] == "hypopg" and rec["worse"] == [] and rec["statements_checked"] >= 1
        assert rec["helps"] and all(h["cost_after"] < h["cost_before"] for h in rec["helps"])
        by_table.setdefault(rec["table"], []).append(keys(rec))
    # the join needs both sides: the lookup on customers and the join key on orders
    assert any(k[0] == "email" for k in by_table["public.customers"])
    assert any(k[0] == "customer_id" for k in by_table["public.orders"])
    join = next(s for s in advice["statements"] if "JOIN" in s["query"])
    assert join["cost_after"] < join["cost_before"] / 10
    # no recommended index is a leading prefix of another on the same table
    for table, sets in by_table.items():
        for a in sets:
            assert not [b for b in sets if b != a and b[:len(a)] == a], (table, sets)
    # the range-then-group statement is served by an index that leads with the range column
    grouped = next(s for s in advice["statements"] if "GROUP BY" in s["query"])
    assert grouped["cost_after"] < grouped["cost_before"] / 2
    assert any(k[0] == "created_at" for k in by_table["public.orders"])
    assert advice["workload"]["cost_after"] < advice["workload"]["cost_before"] / 5

    # the recommendations, built, are what the planner uses
    for rec in recs:
        db.execute(f"CREATE INDEX {rec['name']} ON {rec['table']} ({', '.join(keys(rec))})"
                   + (f" INCLUDE ({', '.join(rec['include'])})" if rec["include"] else ""))
    db.execute("ANALYZE")
    plan = db.value("EXPLAIN (FORMAT JSON) SELECT o.id FROM customers c JOIN orders o ON o.customer_id = c.id "
                    "WHERE c.email = 'user77@example.org'")
    assert "Seq Scan" not in str(plan)


def test_like_prefix_on_a_non_c_collation_gets_text_pattern_ops(db_on, spec_file):
    db = db_on("15")
    assert db.value("SELECT datcollate FROM pg_database WHERE datname = current_database()") not in ("C", "POSIX")
    db.execute("""
        CREATE TABLE products (id bigint PRIMARY KEY, sku text NOT NULL, title text NOT NULL);
        INSERT INTO products SELECT g, upper(substr(md5(g::text), 1, 10)), 'product ' || g
        FROM generate_series(1, 60000) g;
        ANALYZE products;
    """)
    reset_statements(db)
    run(db, [("SELECT id, sku FROM products WHERE sku LIKE %s",
              lambda r: ("".join(r.choice("0123456789ABCDEF") for _ in range(4)) + "%",))], times=30)
    advice = advise(db, spec_file, spec="version: 1\nextensions: [pg_trgm]\n")
    rec = next(r for r in advice["recommendations"] if r["table"] == "public.products")
    assert rec["using"] == "btree" and rec["columns"] == [{"column": "sku", "opclass": "text_pattern_ops"}]
    assert rec["verified_by"] == "hypopg" and rec["helps"]
    assert not [r for r in advice["recommendations"] if r["using"] == "btree" and r["columns"] == ["sku"]]
    db.execute(f"CREATE INDEX {rec['name']} ON products (sku text_pattern_ops)")
    plan = str(db.value("EXPLAIN (FORMAT JSON) SELECT id FROM products WHERE sku LIKE 'A1B2%'"))
    assert rec["name"] in plan


SKEWED = """
CREATE TABLE jobs (id bigint PRIMARY KEY, state text NOT NULL, payload text NOT NULL);
INSERT INTO jobs SELECT g, CASE WHEN g % 100 < 90 THEN 'done' ELSE 'state' || (g % 37) END, md5(g::text)
FROM generate_series(1, 80000) g;
ANALYZE jobs;
"""


def test_a_skewed_column_is_judged_by_the_values_the_application_asks_for(db_on, spec_file):
    common, rare = db_on("15"), db_on("15")
    for db in (common, rare):
        db.execute(SKEWED)
        reset_statements(db)
    # the generic plan assumes an average value (1 in 38: under 3% of rows), where an index looks good
    with psycopg.connect(common.dsn, autocommit=True) as conn:
        conn.execute("PREPARE q(text) AS SELECT id, payload FROM jobs WHERE state = $1")
        conn.execute("SET plan_cache_mode = force_generic_plan")
        plan = conn.execute("EXPLAIN (FORMAT JSON) EXECUTE q('done')").fetchone()[0][0]["Plan"]
    assert plan["Plan Rows"] < 0.03 * 80000
    query = "SELECT id, payload FROM jobs WHERE state = %s"
    run(common, [(query, ("done",))], times=12)                            # 90% of the table per call
    run(rare, [(query, lambda r: (f"state{r.randint(0, 36)}",))], times=12)  # a few hundred rows per call
    asked_common = advise(common, spec_file)
    asked_rare = advise(rare, spec_file)
    assert not [r for r in asked_common["recommendations"] if keys(r)[0] == "state"]
    assert [r for r in asked_rare["recommendations"] if keys(r)[0] == "state" and r["verified_by"] == "hypopg"]


def test_gin_candidates_unverified_with_hypopgs_reason_or_built_and_rolled_back(db_on, spec_file):
    db = db_on("15")
    db.execute("""
        CREATE TABLE docs (id bigint PRIMARY KEY, body jsonb NOT NULL);
        INSERT INTO docs SELECT g, jsonb_build_object('tag', 't' || (g % 5000), 'n', g) FROM generate_series(1, 60000) g;
        ANALYZE docs;
    """)
    reset_statements(db)
    run(db, [("SELECT id FROM docs WHERE body @> %s::jsonb", lambda r: (f'{{"tag": "t{r.randint(0, 4999)}"}}',))],
        times=20)
    advice = advise(db, spec_file)
    rec = next(r for r in advice["recommendations"] if r["using"] == "gin")
    assert rec["verified"] is False and 'access method "gin" is not supported' in rec["unverified_reason"]
    assert "current transaction is aborted" not in str(advice)

    result = db.cli("advise", "--format", "json", "--build-candidates", spec=spec_file(SPEC, "b.yaml"))
    assert result.exit_code == 0, result.stderr
    assert f"building {rec['name']} on public.docs for real" in result.stderr and "SHARE lock" in result.stderr
    built = next(r for r in result.json["recommendations"] if r["using"] == "gin")
    assert built["verified_by"] == "build" and built["cost_after"] < built["cost_before"] / 2
    assert built["size_bytes"] > 0
    assert db.value("SELECT count(*) FROM pg_indexes WHERE tablename = 'docs'") == 1  # the primary key only


def test_three_column_candidates_and_the_heuristic_path(db, spec_file):
    db.execute(SHOP)
    reset_statements(db)
    run(db, [("SELECT id FROM orders WHERE customer_id = %s AND status = %s ORDER BY created_at DESC LIMIT 10",
              lambda r: (r.randint(1, 20000), "new"))], times=20)
    advice = advise(db, spec_file)
    rec = next(r for r in advice["recommendations"] if r["table"] == "public.orders")
    if db.major == 15:
        assert rec["verified_by"] == "hypopg"
        assert keys(rec)[0] == "customer_id"
    else:  # the heuristic: equality columns (most distinct first), then the order
        assert rec["columns"] == ["customer_id", "status", "created_at DESC"] and rec["verified"] is False
    shape = analyse(advice["statements"][0]["query"], {"orders": ("public", "orders")})
    assert [p.kind for p in shape.predicates] == ["eq", "eq", "sort"]


def test_a_planner_error_is_reported_as_it_happened_and_the_session_goes_on(db):
    from reconciler.commands.advise.whatif import Planned, WhatIf
    from reconciler.connect.session import connect
    db.execute("CREATE TABLE t (a int); INSERT INTO t SELECT g FROM generate_series(1, 100) g; ANALYZE t")
    table = frozenset({("public", "t")})
    failing = Planned("SELECT 1 / 0 FROM t WHERE a = $1", table, None, params=1)  # folded, so it fails at plan time
    fine = Planned("SELECT a FROM t WHERE a = $1", table, None, params=1)
    with connect(db.dsn) as conn, WhatIf(conn, db.major, [failing, fine]) as whatif:
        assert whatif.generic_cost(0, frozenset()) is None
        assert failing.error == "division by zero"
        assert whatif.generic_cost(1, frozenset()) and fine.error is None
        assert not conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()[0]


# The ORDER BY … LIMIT trap: an index that walks in ORDER BY order and filters looks cheap to the
# planner, which assumes the matching rows are spread evenly along it. They are not when the
# application asks for rare values, or for a LIKE prefix (its matches sit together, at the prefix).

def _walk_and_filter(plan: dict) -> bool:
    """Whether ``plan`` has an index scan with a Filter under a Limit (no sort between)."""
    def scan_below(node: dict) -> bool:
        if node.get("Node Type") in ("Index Scan", "Index Only Scan"):
            return "Filter" in node
        if node.get("Node Type") in ("Sort", "Incremental Sort", "Hash", "Aggregate"):
            return False
        return any(scan_below(child) for child in node.get("Plans", [])[:1])
    if plan.get("Node Type") == "Limit":
        return scan_below(plan["Plans"][0])
    return any(_walk_and_filter(child) for child in plan.get("Plans", []))


def test_like_prefix_with_order_by_limit_is_not_served_by_an_ordered_walk(db_on, spec_file):
    db = db_on("15")
    assert db.value("SELECT datcollate FROM pg_database WHERE datname = current_database()") not in ("C", "POSIX")
    db.execute("""
        CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL, city text NOT NULL);
        INSERT INTO customers SELECT g, substr(md5(g::text), 1, 12), 'city' || (g % 50)
        FROM generate_series(1, 120000) g;
        ANALYZE customers;
    """)
    reset_statements(db)
    run(db, [("SELECT id, name FROM customers WHERE name LIKE %s ORDER BY name LIMIT 20",
              lambda r: ("".join(r.choice("0123456789abcdef") for _ in range(3)) + "%",))], times=30)
    advice = advise(db, spec_file)
    recs = [r for r in advice["recommendations"] if r["table"] == "public.customers"]
    assert recs, advice["notes"]
    assert not [r for r in recs if r["columns"] == ["name"]]          # the ordered walk that filters
    rec = recs[0]
    assert rec["columns"] == [{"column": "name", "opclass": "text_pattern_ops"}]
    db.execute(f"CREATE INDEX {rec['name']} ON customers (name text_pattern_ops)")
    db.execute("ANALYZE customers")
    plan = db.value("EXPLAIN (FORMAT JSON) SELECT id, name FROM customers WHERE name LIKE 'ff0%' "
                    "ORDER BY name LIMIT 20")[0]["Plan"]
    assert rec["name"] in str(plan) and not _walk_and_filter(plan)


def test_rare_status_with_order_by_limit_gets_the_equality_column_first(db_on, spec_file):
    db = db_on("15")
    db.execute("""
        CREATE TABLE orders (id bigint PRIMARY KEY, status text NOT NULL, created_at timestamptz NOT NULL,
                             total numeric NOT NULL);
        INSERT INTO orders SELECT g, CASE WHEN g % 1000 = 0 THEN 'failed' WHEN g % 100 < 3 THEN 'pending'
                                         ELSE 'done' END,
               timestamptz '2026-01-01' + g * interval '1 minute', g % 500
        FROM generate_series(1, 200000) g;
        ANALYZE orders;
    """)
    reset_statements(db)
    query = "SELECT id, total FROM orders WHERE status = %s AND created_at < %s ORDER BY created_at LIMIT 100"
    run(db, [(query, lambda r: ("failed", "2026-05-01")),                 # always the rare status
             ("SELECT count(*) FROM orders WHERE created_at >= %s AND created_at < %s",  # a (created_at) reader
              lambda r: (f"2026-03-{r.randint(1, 20):02d}", f"2026-03-{r.randint(21, 28):02d}"))], times=30)
    advice = advise(db, spec_file)
    recs = [r for r in advice["recommendations"] if r["table"] == "public.orders"]
    # the equality column first: (status) or (status, created_at), whichever the planner costs lower
    assert [r for r in recs if keys(r)[0] == "status"], [r["definition"] for r in recs]
    for rec in recs:
        db.execute(f"CREATE INDEX {rec['name']} ON orders ({', '.join(keys(rec))})")
    db.execute("ANALYZE orders")
    plan = db.value("EXPLAIN (FORMAT JSON) " + query.replace("%s", "'failed'", 1).replace("%s", "'2026-05-01'"))
    assert not _walk_and_filter(plan[0]["Plan"])


def test_the_write_weight_decides_whether_writes_pay_for_an_index(db_on, spec_file):
    """An index on a column the workload's UPDATEs set saves the reads some time, but costs every
    updated row an entry and its HOT update: weighed, writes win; with write_weight 0 (and no
    limit on how much slower a write may get), reads do."""
    db = db_on("15")
    db.execute("""
        CREATE TABLE events (id bigint PRIMARY KEY, kind int NOT NULL, payload text NOT NULL, hits int NOT NULL)
        WITH (fillfactor = 70);
        INSERT INTO events SELECT g, g % 500, md5(g::text), 0 FROM generate_series(1, 100000) g;
        ANALYZE events;
    """)
    reset_statements(db)
    run(db, [("SELECT count(*) FROM events WHERE kind = %s", lambda r: (r.randint(0, 499),))], times=30)
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        for lo in range(1, 80001, 5000):
            conn.execute("UPDATE events SET kind = (kind + 1) %% 500 WHERE id BETWEEN %s AND %s", (lo, lo + 20000))
    weighed = advise(db, spec_file)
    reads_only = advise(db, spec_file, spec="version: 1\nadvisor: {write_weight: 0, max_write_slowdown: null}\n")
    on_kind = [r for r in reads_only["recommendations"] if keys(r) == ["kind"]]
    assert on_kind, reads_only["recommendations"]
    rec = on_kind[0]
    assert rec["write_ms_added_per_hour"] > rec["read_ms_saved_per_hour"] > 0    # what the weighing sees
    assert rec["upkeep"]["updates"] and rec["upkeep"]["updates"][0]["loses_hot"]
    assert not [r for r in weighed["recommendations"] if keys(r) == ["kind"]]


def test_no_write_statement_is_made_slower_than_max_write_slowdown(db_on, spec_file):
    """An index on ``kind`` pays for itself over the workload (many reads), but the few big UPDATEs
    that set ``kind`` would lose HOT and get several times slower: within ``max_write_slowdown:
    1.5`` it is not recommended, by either strategy; without the limit (the default) it is, and the
    advice shows how much slower it makes that UPDATE."""
    db = db_on("15")
    db.execute("""
        CREATE TABLE events (id bigint PRIMARY KEY, kind int NOT NULL, payload text NOT NULL, hits int NOT NULL)
        WITH (fillfactor = 60);
        INSERT INTO events SELECT g, g % 500, md5(g::text), 0 FROM generate_series(1, 100000) g;
    """)
    db.execute("VACUUM ANALYZE events")
    reset_statements(db)
    run(db, [("SELECT count(*) FROM events WHERE kind = %s", lambda r: (r.randint(0, 499),))], times=150)
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        for lo in range(1, 60001, 20000):
            conn.execute("UPDATE events SET kind = (kind + 1) %% 500 WHERE id BETWEEN %s AND %s", (lo, lo + 5000))
    assert db.value("SELECT n_tup_hot_upd::float8 / n_tup_upd FROM pg_stat_user_tables "
                    "WHERE relname = 'events'") > 0.5                   # the updates are HOT today
    unlimited = advise(db, spec_file)
    assert [keys(r) for r in unlimited["recommendations"]] == [["kind"]], unlimited["recommendations"]
    slowest = unlimited["workload"]["slowest_writes"]
    assert slowest and slowest[0]["query"].startswith("UPDATE events") and slowest[0]["slowdown"] > 1.5, slowest
    for strategy in ("exact", "greedy"):
        limited = advise(db, spec_file, "--strategy", strategy, spec="version: 1\nadvisor: {max_write_slowdown: 1.5}\n")
        assert limited["workload"]["max_write_slowdown"] == 1.5
        assert not [r for r in limited["recommendations"] if keys(r) == ["kind"]], (strategy, limited["workload"])
    roomy = advise(db, spec_file, spec=f"version: 1\nadvisor: {{max_write_slowdown: {slowest[0]['slowdown'] + 0.5}}}\n")
    assert [keys(r) for r in roomy["recommendations"]] == [["kind"]]    # the limit is what stopped it


def test_exact_strategy_reports_its_solver_honours_a_budget_and_greedy_stays(db_on, spec_file):
    db = db_on("15")
    db.execute(SHOP)
    reset_statements(db)
    run(db, [
        ("SELECT id FROM orders WHERE customer_id = %s", lambda r: (r.randint(1, 20000),)),
        ("SELECT status, count(*) FROM orders WHERE created_at >= %s GROUP BY status", ("2026-10-01",)),
        ("SELECT id FROM customers WHERE email = %s", lambda r: (f"user{r.randint(1, 20000)}@example.org",)),
    ], times=8)
    exact = advise(db, spec_file)
    solver = exact["workload"]["solver"]
    assert exact["workload"]["strategy"] == "exact" and solver["status"] == "OPTIMAL" and solver["gap_pct"] == 0
    sizes = sorted(r["size_bytes"] for r in exact["recommendations"])
    assert len(sizes) >= 2
    budget = sum(sizes) - 1                      # one index too many for the budget
    capped = advise(db, spec_file, spec=f"version: 1\nadvisor: {{max_index_bytes: {budget}}}\n")
    assert 0 < sum(r["size_bytes"] for r in capped["recommendations"]) <= budget
    assert len(capped["recommendations"]) < len(exact["recommendations"])
    greedy = advise(db, spec_file, "--strategy", "greedy")
    assert greedy["workload"]["strategy"] == "greedy" and greedy["workload"]["solver"] is None


def test_without_hypopg_a_fast_statement_gets_no_index(db_on, spec_file):
    db = db_on("18")
    db.execute("CREATE TABLE tiny (id int PRIMARY KEY, code int NOT NULL); "
               "INSERT INTO tiny SELECT g, g % 7 FROM generate_series(1, 200) g; ANALYZE tiny;")
    reset_statements(db)
    run(db, [("SELECT id FROM tiny WHERE code = %s", lambda r: (r.randint(0, 6),))], times=50)
    advice = advise(db, spec_file)
    assert advice["hypopg"] is False and advice["statements"]          # in the workload: all of its time
    assert advice["recommendations"] == []
    assert any("left out" in n and "1 ms a call" in n for n in advice["notes"])


def test_review_keeps_an_index_that_helped_and_drops_one_that_did_not(db_on, spec_file):
    """Closed loop: two advised indexes are built by apply (which records a baseline of their
    statements); after the workload ran again, the one its statement needed is kept, the one the
    planner never uses has no effect, and --review --write moves it to drop_indexes for apply."""
    db = db_on("15")
    db.execute("""
        CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int NOT NULL, total int NOT NULL);
        INSERT INTO orders SELECT g, g % 20000, g % 7 FROM generate_series(1, 200000) g;
    """)
    db.execute("VACUUM ANALYZE orders")               # hint bits set: later scans are not faster for that
    db.execute("SELECT pg_stat_force_next_flush()")   # the 200,000 inserted rows are not writes since the build
    wait_for(lambda: db.value("SELECT n_tup_ins FROM pg_stat_user_tables WHERE relname = 'orders'") == 200000,
             "the insert's statistics to be flushed")
    lookup = ("SELECT id FROM orders WHERE customer_id = %s", lambda r: (r.randint(0, 19999),))
    scan = ("SELECT count(*), sum(customer_id) FROM orders WHERE total >= %s", (0,))  # every row: no index helps
    run(db, [lookup, scan], times=3)                                  # warm
    reset_statements(db)
    run(db, [lookup, scan], times=12)
    ids = dict(db.rows("SELECT query, queryid FROM pg_stat_statements WHERE query LIKE '%orders%' "
                       "AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"))
    lookup_id = next(i for q, i in ids.items() if "customer_id =" in q)   # the scan sums customer_id too
    scan_id = next(i for q, i in ids.items() if "total >=" in q)
    spec = spec_file(f"""version: 1
tables:
  public.orders:
    indexes:
      - {{name: idx_orders_customer, columns: [customer_id], advised: {{at: "2026-12-05T08:00:00Z", for: [{lookup_id}]}}}}
      - {{name: idx_orders_total, columns: [total], advised: {{at: "2026-12-05T08:00:00Z", for: [{scan_id}]}}}}
""")
    early = db.cli("advise", "--review", "--format", "json", spec=spec)
    assert {r["name"]: r["verdict"] for r in early.json["reviews"]} == {"idx_orders_customer": "no baseline",
                                                                         "idx_orders_total": "no baseline"}
    db.apply(spec)
    baseline = db.value("SELECT changes FROM pgrecon.history ORDER BY id DESC LIMIT 1")
    assert all(c["baseline"]["statements"] for c in baseline if c["action"] == "create"), [c.get("baseline") for c in baseline]
    run(db, [lookup, scan], times=12)
    result = db.cli("advise", "--review", "--format", "json", spec=spec)
    assert result.exit_code == 0, result.stderr
    verdicts = {r["name"]: r for r in result.json["reviews"]}
    kept, useless = verdicts["idx_orders_customer"], verdicts["idx_orders_total"]
    assert kept["verdict"] == "kept" and kept["statements"][0]["faster"] and kept["scans"] >= 12, kept
    assert kept["statements"][0]["calls_since"] == 12 and kept["statements"][0]["calls_before"] == 12
    assert useless["verdict"] == "no effect" and not useless["statements"][0]["faster"] and useless["scans"] < 12, useless
    text = db.cli("advise", "--review", spec=spec)
    assert "kept" in text.stdout and "no effect" in text.stdout
    markdown = db.cli("advise", "--review", "--format", "markdown", spec=spec)
    assert "| `public.orders.idx_orders_total` | **no effect** |" in markdown.stdout
    page = db.cli("advise", "--review", "--format", "html", spec=spec)
    assert page.exit_code == 0 and page.stdout.startswith("<!DOCTYPE html>") and 'class="kept">kept' in page.stdout

    written = db.cli("advise", "--review", "--write", spec=spec)
    assert written.exit_code == 0 and "moved idx_orders_total" in written.stdout
    edited = spec.read_text()
    assert "drop_indexes:" in edited and "idx_orders_customer" in edited and "advised" in edited
    refused = db.cli("apply", spec=spec)
    assert refused.exit_code != 0 and "index-drop" in (refused.stdout + refused.stderr)
    db.apply(spec, "--allow-hazards", "index-drop")
    assert set(db.indexes("orders")) == {"orders_pkey", "idx_orders_customer"}
    db.assert_converged(spec)


def test_pg_qualstats_constants_make_a_partial_index(db_on, spec_file):
    """The application always asks for one rare status, written as a constant: pg_stat_statements
    shows `$1`, pg_qualstats the constant; the advisor costs the statement at it and proposes a
    partial index for it."""
    db = db_on("15")
    db.execute("""
        CREATE TABLE jobs (id bigint PRIMARY KEY, status text NOT NULL, created_at timestamptz NOT NULL,
                           payload text NOT NULL);
        INSERT INTO jobs SELECT g, CASE WHEN g % 100 = 0 THEN 'pending' ELSE 'done' END,
               timestamptz '2026-01-01' + g * interval '1 minute', md5(g::text)
        FROM generate_series(1, 200000) g;
        ANALYZE jobs;
        CREATE EXTENSION IF NOT EXISTS pg_qualstats;
    """)
    reset_statements(db)
    db.execute("SELECT pg_qualstats_reset()")
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        for _ in range(20):   # a literal, as an ORM or a hand-written query does
            conn.execute("SELECT id, payload FROM jobs WHERE status = 'pending' ORDER BY created_at DESC LIMIT 50")
    advice = advise(db, spec_file)
    partial = [r for r in advice["recommendations"] if r["where"]]
    assert partial, [r["definition"] for r in advice["recommendations"]]
    rec = partial[0]
    assert rec["where"] == "\"status\" = 'pending'" and keys(rec) == ["created_at DESC"] and "_where_status" in rec["name"]
    spec = spec_file("version: 1\n", "partial.yaml")
    written = db.cli("advise", "--write", spec=spec)
    assert written.exit_code == 0, written.stderr
    db.apply(spec)
    assert "WHERE (status = 'pending'::text)" in db.indexes("jobs")[rec["name"]][1]
    plan = str(db.value("EXPLAIN (FORMAT JSON) SELECT id, payload FROM jobs WHERE status = 'pending' "
                        "ORDER BY created_at DESC LIMIT 50"))
    assert rec["name"] in plan


def test_a_partitioned_table_gets_its_index_on_the_parent_costed_on_the_partitions(db_on, spec_file):
    db = db_on("15")
    db.execute("""
        CREATE TABLE metrics (id bigint NOT NULL, at timestamptz NOT NULL, device int NOT NULL, value float8 NOT NULL)
        PARTITION BY RANGE (at);
        CREATE TABLE metrics_2026_01 PARTITION OF metrics FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
        CREATE TABLE metrics_2026_02 PARTITION OF metrics FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');
        CREATE TABLE metrics_2026_03 PARTITION OF metrics FOR VALUES FROM ('2026-03-01') TO ('2026-04-01');
        INSERT INTO metrics SELECT g, timestamptz '2026-01-01' + (g % 89) * interval '1 day', g % 2000, g
        FROM generate_series(1, 300000) g;
        ANALYZE metrics_2026_01, metrics_2026_02, metrics_2026_03;   -- as autovacuum does: never the parent
    """)
    reset_statements(db)
    run(db, [("SELECT at, value FROM metrics WHERE device = %s AND at >= %s",
              lambda r: (r.randint(0, 1999), "2026-02-15"))], times=20)
    advice = advise(db, spec_file)
    recs = [r for r in advice["recommendations"] if r["table"] == "public.metrics"]
    assert recs and recs[0]["verified_by"] == "hypopg" and keys(recs[0])[0] == "device", advice["recommendations"]
    assert recs[0]["helps"] and recs[0]["cost_after"] < recs[0]["cost_before"] / 5
    assert recs[0]["size_bytes"] > 1_000_000, recs   # its children on the 300,000 rows of the partitions
    assert not [r for r in advice["recommendations"] if r["table"].startswith("public.metrics_")]
    spec = spec_file("version: 1\n", "parts.yaml")
    assert db.cli("advise", "--write", spec=spec).exit_code == 0
    assert "public.metrics:" in spec.read_text()
    db.apply(spec)
    name = recs[0]["name"]
    assert db.value("SELECT relkind FROM pg_class WHERE relname = %s", (name,)) == "I"   # a partitioned index
    assert db.value("SELECT count(*) FROM pg_inherits WHERE inhparent = %s::regclass", (name,)) == 3
    db.assert_converged(spec)
