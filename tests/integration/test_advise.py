"""The advisor and maintenance on real servers: a missing index found from real statements, written
into the spec, planned, applied and used; redundant and unused indexes; maintain's thresholds."""

from __future__ import annotations

import random

import psycopg

EVENTS = """
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
CREATE TABLE events (id bigint PRIMARY KEY, account int NOT NULL, kind text NOT NULL,
                     created_at timestamptz NOT NULL, payload jsonb NOT NULL DEFAULT '{}');
INSERT INTO events SELECT g, g % 2000, (ARRAY['login','click','buy'])[1 + g % 3],
       '2026-01-01'::timestamptz + g * interval '1 minute', jsonb_build_object('n', g % 10)
FROM generate_series(1, 60000) g;
ANALYZE events;
SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0);
"""
QUERY = "SELECT id, kind FROM events WHERE account = %s ORDER BY created_at DESC LIMIT 20"


def workload(db, rounds: int = 25) -> None:
    with psycopg.connect(db.dsn) as conn:
        for _ in range(rounds):
            conn.execute(QUERY, (random.randint(0, 1999),)).fetchall()


def explain_cost(db, account: int = 7) -> tuple[float, str]:
    plan = db.value("EXPLAIN (FORMAT JSON) " + QUERY, (account,))[0]["Plan"]
    nodes = []
    stack = [plan]
    while stack:
        node = stack.pop()
        nodes.append(node["Node Type"])
        stack.extend(node.get("Plans", []))
    return plan["Total Cost"], " ".join(nodes)


def test_missing_index_found_written_planned_applied_used(db, spec_file, tmp_path):
    db.execute(EVENTS)
    workload(db)
    spec = spec_file("version: 1\n# the events table\ntables:\n  public.events:\n    indexes: []\n"
                     "monitoring: {min_calls: 5}\n")
    result = db.cli("advise", "--format", "json", spec=spec)
    assert result.exit_code == 0, result.stderr
    advice = result.json
    recs = [r for r in advice["recommendations"] if r["table"] == "public.events"]
    assert recs, advice
    rec = recs[0]
    assert rec["columns"] == ["account", "created_at DESC"] and rec["using"] == "btree"
    assert rec["queries"] and "account = $1" in rec["queries"][0]["query"]
    if db.major == 15:  # HypoPG is installed for PostgreSQL 15: the planner verifies the saving
        assert advice["hypopg"] and rec["verified"] is True and rec["saving_pct"] >= 50
        assert rec["cost_after"] < rec["cost_before"]
    else:
        assert rec["verified"] is False and rec["cost_after"] is None
    assert any("sequential scan on events" in f for e in advice["explained"] for f in e["findings"])
    scans = {t["table"]: t for t in advice["sequential_scan_tables"]}
    assert scans["public.events"]["seq_scan"] >= 25 and scans["public.events"]["addressed"] is True

    before_cost, before_nodes = explain_cost(db)
    assert "Seq Scan" in before_nodes
    written = db.cli("advise", "--write", spec=spec)
    assert written.exit_code == 0 and f"added {rec['name']}" in written.stdout
    text = spec.read_text()
    assert "# the events table" in text and "pgrecon advise: serves queryid" in text  # comments kept and added
    plan = db.plan_json(spec)
    assert [(c["action"], c["name"]) for c in plan["changes"]] == [("create", rec["name"])]
    db.apply(spec)
    after_cost, after_nodes = explain_cost(db)
    assert "Index Scan" in after_nodes and "Seq Scan" not in after_nodes
    assert after_cost < before_cost / 2
    db.assert_converged(spec)


def test_redundant_duplicate_unique_and_constraint_indexes(db, spec_file):
    db.execute("""
        CREATE TABLE r (id int PRIMARY KEY, a int, b int, c int, d int);
        INSERT INTO r SELECT g, g % 100, g % 7, g, g % 5 FROM generate_series(1, 5000) g;
        CREATE INDEX r_a ON r (a);
        CREATE INDEX r_a_dup ON r (a);
        CREATE INDEX r_b ON r (b);
        CREATE INDEX r_b_a ON r (b, a);
        CREATE UNIQUE INDEX r_c_unique ON r (c);
        CREATE INDEX r_c ON r (c);
        CREATE INDEX r_id_d ON r (id, d);
        CREATE INDEX r_d_partial ON r (d) WHERE a > 50;
        CREATE INDEX r_d_a_full ON r (d, a);
        ANALYZE r;
    """)
    spec = spec_file("version: 1\ntables:\n  public.r: {}\n")
    advice = db.cli("advise", "--format", "json", spec=spec).json
    found = {f["index"]: (f["reason"], f["covered_by"]) for f in advice["redundant_indexes"]}
    assert found["r_a_dup"] == ("same definition as r_a", "r_a")
    assert found["r_b"][1] == "r_b_a" and "leading prefix" in found["r_b"][0]
    assert found["r_c"][1] == "r_c_unique"
    assert "r_c_unique" not in found and "r_pkey" not in found  # unique and constraint indexes stay
    assert "r_d_partial" not in found  # another predicate: not covered by the full index
    assert "r_a" not in found


def test_unused_indexes(db, spec_file):
    db.execute("""
        CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
        CREATE TABLE u (id int PRIMARY KEY, a int, b int);
        INSERT INTO u SELECT g, g % 1000, g % 10 FROM generate_series(1, 20000) g;
        CREATE INDEX u_a ON u (a);
        CREATE INDEX u_b ON u (b);
        CREATE UNIQUE INDEX u_b_id ON u (b, id);
        ANALYZE u;
    """)
    with psycopg.connect(db.dsn) as conn:
        for i in range(10):
            conn.execute("SELECT * FROM u WHERE a = %s", (i,)).fetchall()
        conn.execute("SELECT pg_stat_force_next_flush()")
    spec = spec_file("version: 1\ntables:\n  public.u: {}\nmonitoring: {unused_after: 0s, unused_min_size: 0}\n")
    advice = db.cli("advise", "--format", "json", spec=spec).json
    unused = {f["index"] for f in advice["unused_indexes"]}
    assert "u_b" in unused
    assert "u_a" not in unused  # scanned by the workload
    assert "u_b_id" not in unused and "u_pkey" not in unused  # unique / constraint indexes are not "unused"
    young = spec_file("version: 1\ntables:\n  public.u: {}\nmonitoring: {unused_after: 30d, unused_min_size: 0}\n",
                      "young.yaml")
    advice = db.cli("advise", "--format", "json", spec=young).json
    assert advice["unused_indexes"] == [] and any("statistics cover only" in n for n in advice["notes"])


def test_missing_pg_stat_statements_says_which_lines_fix_it(db, spec_file):
    db.execute("CREATE TABLE t (a int)")
    spec = spec_file("version: 1\nextensions: [pg_trgm]\ntables:\n  public.t: {}\n")
    result = db.cli("advise", spec=spec)
    assert result.exit_code == 0
    assert "the extension is not created in this database" in result.stdout
    assert "add pg_stat_statements to `extensions:` (schema.yaml:2)" in result.stdout.replace(str(spec), "schema.yaml")


def test_report_sections(db, spec_file):
    db.execute(EVENTS)
    workload(db, 6)
    advice = db.cli("advise", "--format", "json", spec=spec_file("version: 1\n")).json
    report = advice["report"]
    for key in ("statements_by_kind", "cache_hit_rate", "index_hit_rate", "most_sequential_scans", "table_bloat",
                "index_bloat", "dead_tuples", "maintenance", "xid_age", "connections"):
        assert key in report
    assert report["statements_by_kind"]["SELECT"]["calls"] >= 6
    assert report["most_sequential_scans"][0]["table"] == "public.events"
    markdown = db.cli("advise", "--format", "markdown", spec=spec_file("version: 1\n", "m.yaml"))
    assert markdown.exit_code == 0 and "**Recommended indexes**" in markdown.stdout


def test_a_recommendation_shows_the_writes_that_would_maintain_it(db, spec_file):
    db.execute(EVENTS)
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        for _ in range(25):
            conn.execute(QUERY, (random.randint(0, 1999),)).fetchall()
        for i in range(30):
            conn.execute("INSERT INTO events (id, account, kind, created_at) VALUES (%s, %s, 'click', now())",
                         (100_000 + i, i))
        for i in range(20):
            conn.execute("UPDATE events SET account = %s WHERE id = %s", (i, i + 1))
        for i in range(10):
            conn.execute("UPDATE events SET kind = 'buy' WHERE id = %s", (i + 1,))
    spec = spec_file("version: 1\ntables:\n  public.events:\n    indexes: []\nmonitoring: {min_calls: 5}\n")
    advice = db.cli("advise", "--format", "json", spec=spec).json
    [rec] = [r for r in advice["recommendations"] if r["table"] == "public.events" and r["columns"][0] == "account"]
    assert rec["upkeep"]["inserts"] == {"statements": 1, "calls": 30, "rows": 30}
    [update] = rec["upkeep"]["updates"]   # the UPDATE of kind touches no column of this index
    assert (update["columns"], update["calls"], update["rows"], update["loses_hot"]) == (["account"], 20, 20, True)
    assert "SET account" in update["query"]
    text = db.cli("advise", spec=spec)
    assert text.exit_code == 0 and "stop being HOT" in text.stdout and "30 rows inserted" in text.stdout
    assert db.cli("advise", "--write", spec=spec).exit_code == 0   # the reviewer sees it in the diff
    assert "upkeep: 30 rows inserted, 20 updated rows stop being HOT" in spec.read_text()


MAINT = """version: 1
maintenance: {schedule: "0 3 * * *", timezone: UTC, window: 2h,
              analyze: {threshold: 50, scale_factor: 0.1}, vacuum: {threshold: 50, scale_factor: 0.1},
              reindex: {bloat_pct: 40, min_size: 64kB}}
tables:
  public.churn: {storage: {autovacuum_enabled: "off"}}
  public.growth: {storage: {autovacuum_enabled: "off"}}
  public.quiet: {storage: {autovacuum_enabled: "off"}}
  public.shrunk: {storage: {autovacuum_enabled: "off"}}
"""
INSIDE = "2026-11-28T03:30:00+00:00"
OUTSIDE = "2026-11-28T12:00:00+00:00"


def test_maintain_runs_exactly_what_is_due_inside_its_window(db, spec_file):
    db.execute("""
        CREATE TABLE churn (id int PRIMARY KEY, v int);
        CREATE TABLE growth (id int PRIMARY KEY, v int);
        CREATE TABLE quiet (id int PRIMARY KEY, v int);
        CREATE TABLE shrunk (id int PRIMARY KEY, v int);
        INSERT INTO churn SELECT g, 0 FROM generate_series(1, 4000) g;
        INSERT INTO growth SELECT g, 0 FROM generate_series(1, 4000) g;
        INSERT INTO quiet SELECT g, 0 FROM generate_series(1, 4000) g;
        INSERT INTO shrunk SELECT g, 0 FROM generate_series(1, 100000) g;
    """)
    spec = spec_file(MAINT)
    db.apply(spec)  # storage: autovacuum off, so only maintain acts
    db.execute("VACUUM ANALYZE churn, growth, quiet, shrunk")
    with psycopg.connect(db.dsn, autocommit=True) as conn:  # a session's statistics are sent when it ends
        conn.execute("UPDATE churn SET v = 1 WHERE id <= 2000")          # dead tuples
        conn.execute("INSERT INTO growth SELECT g, 0 FROM generate_series(4001, 6000) g")  # changes to analyze
        conn.execute("DELETE FROM shrunk WHERE id > 5000")
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE shrunk")  # the heap is cleaned; the index keeps its pages: bloat

    closed = db.cli("maintain", "--now", OUTSIDE, "--format", "json", spec=spec).json
    assert closed["window_open"] is False and closed["ran"] is False
    due = {(a["kind"], a["target"]) for a in closed["actions"]}
    assert due == {("vacuum", "public.churn"), ("analyze", "public.growth"), ("reindex", "public.shrunk_pkey")}
    assert db.value("SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'churn'") >= 2000  # nothing ran

    dry = db.cli("maintain", "--now", INSIDE, "--dry-run", "--format", "json", spec=spec).json
    assert dry["window_open"] is True and dry["ran"] is False

    size_before = db.value("SELECT pg_relation_size('shrunk_pkey')")
    ran = db.cli("maintain", "--now", INSIDE, "--format", "json", spec=spec).json
    assert ran["ran"] is True
    actions = {(a["kind"], a["target"]): a for a in ran["actions"]}
    assert set(actions) == due
    assert actions[("vacuum", "public.churn")]["before"]["n_dead_tup"] >= 2000
    assert actions[("vacuum", "public.churn")]["after"]["n_dead_tup"] == 0
    assert actions[("analyze", "public.growth")]["after"]["n_mod_since_analyze"] == 0
    assert db.value("SELECT pg_relation_size('shrunk_pkey')") < size_before / 2
    assert db.value("SELECT count(*) FROM pg_index WHERE NOT indisvalid") == 0
    again = db.cli("maintain", "--now", INSIDE, "--dry-run", "--format", "json", spec=spec).json
    # what ran is no longer due (the vacuum of churn may reveal its index's bloat: a new finding)
    assert not {(a["kind"], a["target"]) for a in again["actions"]} & due


def test_table_storage_parameters_reconcile(db, spec_file):
    db.execute("CREATE TABLE s (id int, note text); ALTER TABLE s SET (fillfactor = 80); CREATE TABLE n (id int)")
    spec = spec_file("version: 1\ntables:\n  public.s:\n    storage: {autovacuum_vacuum_scale_factor: 0.05, "
                     "toast.autovacuum_enabled: false}\n")
    plan = db.plan_json(spec)
    change = plan["changes"][0]
    assert (change["kind"], change["action"], change["name"]) == ("table-setting", "set", "public.s")
    assert "RESET (fillfactor)" in change["sql"][0]
    db.apply(spec)
    assert db.value("SELECT reloptions FROM pg_class WHERE relname = 's'") == ["autovacuum_vacuum_scale_factor=0.05"]
    db.assert_converged(spec)
    no_toast = spec_file("version: 1\ntables:\n  public.n: {storage: {toast.autovacuum_enabled: false}}\n", "n.yaml")
    result = db.cli("plan", spec=no_toast)
    assert result.exit_code == 1 and "has no TOAST table" in result.stderr
    db.execute("CREATE TABLE p (at timestamptz) PARTITION BY RANGE (at)")
    bad = spec_file("version: 1\ntables:\n  public.p: {storage: {fillfactor: 70}}\n", "bad.yaml")
    result = db.cli("plan", spec=bad)
    assert result.exit_code == 1 and "partitioned" in result.stderr


def test_maintain_is_not_cut_short_by_the_roles_timeouts(db18, spec_file):
    """statement_timeout and transaction_timeout (PostgreSQL 17+) set on the database would end a
    REINDEX CONCURRENTLY midway; maintain times its actions by target.build_timeout (none)."""
    db18.execute("CREATE TABLE shrunk (id int PRIMARY KEY, v int) WITH (autovacuum_enabled = off)")
    db18.execute("INSERT INTO shrunk SELECT g, 0 FROM generate_series(1, 1000000) g")
    db18.execute("DELETE FROM shrunk WHERE id > 50000")
    db18.execute("VACUUM ANALYZE shrunk")  # the heap is cleaned; the index keeps its pages: bloat
    db18.execute(f"ALTER DATABASE {db18.name} SET statement_timeout = '5ms'")
    db18.execute(f"ALTER DATABASE {db18.name} SET transaction_timeout = '5ms'")
    spec = spec_file("version: 1\nmaintenance: {schedule: \"0 3 * * *\", timezone: UTC, window: 2h,\n"
                     "              reindex: {bloat_pct: 40, min_size: 64kB}}\n"
                     "tables:\n  public.shrunk: {storage: {autovacuum_enabled: \"off\"}}\n")
    size_before = db18.value("SELECT pg_relation_size('shrunk_pkey')")
    ran = db18.cli("maintain", "--now", INSIDE, "--format", "json", spec=spec)
    assert ran.exit_code == 0, ran.stdout + ran.stderr
    assert ran.json["ran"] is True
    assert {(a["kind"], a["target"]) for a in ran.json["actions"]} >= {("reindex", "public.shrunk_pkey")}
    assert db18.value("SELECT pg_relation_size('shrunk_pkey')") < size_before / 4
    assert db18.value("SELECT count(*) FROM pg_index WHERE NOT indisvalid") == 0
