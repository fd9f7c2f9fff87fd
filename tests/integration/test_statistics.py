"""Per-column statistics targets: a resource type added through the registry (issue 11)."""

from __future__ import annotations

from tests.pgtest import actions


def _targets(db, table: str) -> dict[str, int | None]:
    rows = db.rows("SELECT attname, NULLIF(attstattarget::int, -1) FROM pg_attribute "
                   "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped", (table,))
    return dict(rows)


def test_statistics_targets_set_reset_and_converge(db, spec_file):
    db.execute("CREATE TABLE agents (id int, status text, template text, beliefs jsonb)")
    db.execute("ALTER TABLE agents ALTER COLUMN beliefs SET STATISTICS 50")   # set by hand, not declared
    spec = spec_file("""version: 1
tables:
  public.agents:
    statistics: {status: 1000, template: 0}
""")
    plan = db.plan_json(spec)
    assert actions(plan) == [("statistics", "set", "public.agents")]
    change = plan["changes"][0]
    assert change["hazards"] == [] and change["locks"] == ["SHARE UPDATE EXCLUSIVE"]
    assert "beliefs 50 -> default" in change["reason"] and "status default -> 1000" in change["reason"]
    assert change["sql"] == ["ALTER TABLE public.agents ALTER COLUMN beliefs SET STATISTICS -1, "
                             "ALTER COLUMN status SET STATISTICS 1000, ALTER COLUMN template SET STATISTICS 0"]
    db.apply(spec)
    db.assert_converged(spec)
    assert _targets(db, "agents") == {"id": None, "status": 1000, "template": 0, "beliefs": None}


def test_statistics_on_partitioned_table_and_materialized_view(db, spec_file):
    db.execute("""
        CREATE TABLE m (at timestamptz NOT NULL, kind text) PARTITION BY RANGE (at);
        CREATE TABLE m_1 PARTITION OF m FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
        CREATE MATERIALIZED VIEW mv AS SELECT kind, count(*) AS n FROM m GROUP BY kind;
    """)
    spec = spec_file("version: 1\ntables:\n  public.m: {statistics: {kind: 500}}\n  public.mv: {statistics: {kind: 300}}\n")
    db.apply(spec)
    db.assert_converged(spec)
    assert _targets(db, "m")["kind"] == 500 and _targets(db, "m_1")["kind"] == 500  # recurses to partitions
    assert _targets(db, "mv")["kind"] == 300


def test_unknown_column_and_bad_target_are_located(db, spec_file):
    db.execute("CREATE TABLE t (status text)")
    bad = spec_file("version: 1\ntables:\n  public.t:\n    statistics: {statsu: 100}\n")
    result = db.cli("plan", spec=bad)
    assert result.exit_code == 1
    assert "tables.public.t.statistics.statsu: column 'statsu' does not exist in public.t (did you mean " \
           "'status'?)" in result.stderr
    out_of_range = spec_file("version: 1\ntables:\n  public.t:\n    statistics: {status: 20000}\n", "range.yaml")
    result = db.cli("plan", spec=out_of_range)
    assert result.exit_code == 1 and "range.yaml:4: tables.public.t.statistics.status" in result.stderr
