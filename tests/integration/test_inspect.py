"""`pgrecon inspect`: a spec describing a live database. The contract: inspect then plan on the same
database is in sync (exit 0), and the spec applied to a copy of the schema without its indexes
builds the same definitions (pg_get_indexdef equal up to names). Over the fixture databases, the
FreeAgentics demo database, generated tables and indexes, on PostgreSQL 15 and 18."""

from __future__ import annotations

import json
import re
from pathlib import Path

import psycopg
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from reconciler.commands.examples import create_example_database
from reconciler.commands.localserver import free_port
from tests.integration.test_pgbouncer import SECRETS, pool_spec, roles, secrets  # noqa: F401 - fixtures
from tests.integration.test_plan_fixtures import CASES, FIXTURES
from tests.pgbouncer_local import LocalPgbouncer
from tests.sqlforms import KEY_GROUPS, PREDICATE_GROUPS, TABLE_SQL

ROOT = Path(__file__).resolve().parents[2]


def inspected(db, path: Path, *extra: str) -> dict:
    result = db.cli("inspect", "--out", str(path), *extra)
    assert result.exit_code == 0, result.stderr
    return yaml.safe_load(path.read_text())


def index_definitions(db) -> list[str]:
    """Every index of the user's tables (partitions left out: which exist depends on the data) as
    pg_get_indexdef, with the index name taken out."""
    rows = db.rows("SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                   "JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                   "WHERE NOT t.relispartition AND n.nspname NOT IN "
                   "('pg_catalog', 'information_schema', 'pg_toast', 'pgrecon')")
    return sorted(re.sub(r"INDEX \S+ ON", "INDEX ON", r[0]) for r in rows)


@pytest.mark.parametrize("case", CASES)
def test_fixture_databases_round_trip(db, tmp_path, case):
    before = (FIXTURES / case / "before.sql").read_text()
    db.execute(before)
    spec = tmp_path / "inspected.yaml"
    inspected(db, spec)
    result = db.cli("plan", "--format", "json", spec=spec)
    if "_pgrecon_" in before:
        # a database left in the middle of an interrupted apply: the leftovers are not exported,
        # and the plan's only changes clear them
        assert {(c["action"], c["name"].startswith("_pgrecon_")) for c in result.json["changes"]} == {("drop", True)}
        return
    assert result.exit_code == 0, (spec.read_text(), result.stdout, result.stderr)


def test_freeagentics_round_trip_and_rebuild_on_a_copy(clean, tmp_path):
    db = clean  # schema.yaml sets server settings: reset after the test
    create_example_database(db.server, agents=500, links=1500, dbname=db.name)
    assert db.cli("apply", "--allow-hazards", "all", spec=ROOT / "schema.yaml").exit_code == 0
    spec = tmp_path / "inspected.yaml"
    data = inspected(db, spec)
    assert "pg_trgm" in data["extensions"]
    agents = data["tables"]["public.agents"]
    assert {i["name"] for i in agents["indexes"]} >= {"idx_agents_active_status_perf", "idx_agents_name_trgm"}
    assert data["tables"]["public.performance_metrics"]["partitioning"]["interval"] == "day"
    assert db.cli("plan", spec=spec).exit_code == 0
    expected = index_definitions(db)

    # the same schema without the indexes, in another database: the inspected spec rebuilds them
    copy = f"{db.name}_copy"
    with psycopg.connect(db.server.dsn(), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(copy)))
    try:
        with psycopg.connect(db.server.dsn(copy), autocommit=True) as conn:
            conn.execute((ROOT / "examples" / "freeagentics" / "schema.sql").read_text())
        copy_db = type(db)(server=db.server, name=copy)
        result = copy_db.cli("apply", "--allow-hazards", "all", spec=spec)
        assert result.exit_code == 0, result.stderr
        copy_db.assert_converged(spec)
        assert index_definitions(copy_db) == expected
        copy_db.close()
    finally:
        with psycopg.connect(db.server.dsn(), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(copy)))


COLUMNS = ["id", "b", "name", "v", "data", "score", "at", "flag", "code"]
index_ddl = st.builds(
    lambda keys, where, unique, method: (keys, where, unique, method),
    keys=st.lists(st.one_of(st.sampled_from(COLUMNS), st.sampled_from([g[0] for g in KEY_GROUPS])),
                  min_size=1, max_size=3, unique=True),
    where=st.one_of(st.none(), st.sampled_from([g[0] for g in PREDICATE_GROUPS])),
    unique=st.booleans(), method=st.sampled_from(["btree", "btree", "hash", "brin"]))


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(indexes=st.lists(index_ddl, min_size=1, max_size=4))
def test_generated_tables_and_indexes_round_trip(db, tmp_path, indexes):
    db.execute("DROP TABLE IF EXISTS t CASCADE")
    db.execute(TABLE_SQL)
    for n, (keys, where, unique, method) in enumerate(indexes):
        if method != "btree":
            keys, unique = keys[:1], False
        columns = ", ".join(k if k in COLUMNS else f"({k})" for k in keys)
        statement = (f"CREATE {'UNIQUE ' if unique else ''}INDEX ix{n} ON t USING {method} ({columns})"
                     + (f" WHERE {where}" if where else ""))
        try:
            db.execute(statement)
        except psycopg.Error:
            continue  # a combination this server refuses (no operator class, a form 15 lacks)
    spec = tmp_path / "inspected.yaml"
    inspected(db, spec, "--tables", "public.t")
    result = db.cli("plan", "--format", "json", spec=spec)
    assert result.exit_code == 0, (spec.read_text(), result.stdout, result.stderr)


def test_tables_include_and_json(db, tmp_path):
    db.execute("CREATE TABLE a1 (x int); CREATE TABLE a2 (x int); CREATE TABLE b1 (x int); "
               "CREATE INDEX a1_x ON a1 (x); CREATE INDEX b1_x ON b1 (x); "
               "ALTER TABLE a1 SET (autovacuum_vacuum_scale_factor = 0.01)")
    result = db.cli("inspect", "--tables", "public.a*", "--include", "indexes", "--format", "json")
    assert result.exit_code == 0
    assert result.json["tables"] == {"public.a1": {"indexes": [{"name": "a1_x", "columns": ["x"]}]}}
    both = db.cli("inspect", "--tables", "public.a1", "--include", "indexes,storage", "--format", "json")
    assert both.json["tables"]["public.a1"]["storage"] == {"autovacuum_vacuum_scale_factor": "0.01"}
    bad = db.cli("inspect", "--include", "indexes,tablespaces")
    assert bad.exit_code == 1 and "unknown section tablespaces" in bad.stderr


def test_merge_adds_what_the_spec_lacks_and_keeps_comments(db, tmp_path):
    db.execute("CREATE TABLE t (a int, b int); CREATE INDEX t_a ON t (a); CREATE INDEX t_b ON t (b); "
               "CREATE TABLE u (c int); CREATE INDEX u_c ON u (c)")
    spec = tmp_path / "schema.yaml"
    spec.write_text("# our database\nversion: 1\ntables:\n  public.t:\n    indexes:\n"
                    "      - {name: t_a, columns: [a]}   # the hot one\n")
    result = db.cli("inspect", "--merge", str(spec), "--include", "indexes")
    assert result.exit_code == 0, result.stderr
    assert "+ tables.public.t.indexes: t_b" in result.stdout and "+ tables.public.u" in result.stdout
    text = spec.read_text()
    assert text.startswith("# our database\n") and "# the hot one" in text
    assert text.index("t_a") < text.index("t_b")
    assert db.cli("plan", spec=spec).exit_code == 0
    again = db.cli("inspect", "--merge", str(spec), "--include", "indexes")
    assert "nothing to add" in again.stdout


def test_partitions_are_inferred_with_remarks(db, tmp_path):
    db.execute("""
        CREATE TABLE events (at timestamptz NOT NULL, v int) PARTITION BY RANGE (at);
        CREATE TABLE events_default PARTITION OF events DEFAULT;
    """)
    now = db.value("SELECT date_trunc('month', now() AT TIME ZONE 'UTC')")
    for k in range(-1, 3):
        lower = db.value("SELECT (%s::timestamp + make_interval(months => %s))", (now, k))
        upper = db.value("SELECT (%s::timestamp + make_interval(months => %s))", (now, k + 1))
        db.execute(sql.SQL("CREATE TABLE {} PARTITION OF events FOR VALUES FROM ({}) TO ({})").format(
            sql.Identifier(f"events_p{lower:%Y%m}"), sql.Literal(f"{lower} +00"), sql.Literal(f"{upper} +00")))
    spec = tmp_path / "inspected.yaml"
    data = inspected(db, spec)
    partitioning = data["tables"]["public.events"]["partitioning"]
    assert partitioning == {"column": "at", "interval": "month", "premake": 2}
    assert "retention is not inferred" in spec.read_text()
    assert db.cli("plan", spec=spec).exit_code == 0
    as_json = tmp_path / "inspected.json"   # JSON has no comments: the remarks are left out, it loads as a spec
    assert db.cli("inspect", "--format", "json", "--out", str(as_json)).exit_code == 0
    assert json.loads(as_json.read_text())["tables"]["public.events"]["partitioning"] == partitioning
    assert db.cli("plan", spec=as_json).exit_code == 0


def test_partitions_behind_now_are_not_exported_and_say_why(db, tmp_path):
    """Partitions that all lie behind now: partitioning is not exported (the first apply would create
    partitions), and a comment says so above the table — which had been lost before issue 18."""
    db.execute("""
        CREATE TABLE old_events (at timestamptz NOT NULL, v int) PARTITION BY RANGE (at);
        CREATE TABLE old_events_p20200101 PARTITION OF old_events FOR VALUES FROM ('2020-01-01 +00') TO ('2020-01-02 +00');
        CREATE TABLE old_events_p20200102 PARTITION OF old_events FOR VALUES FROM ('2020-01-02 +00') TO ('2020-01-03 +00');
        CREATE INDEX old_events_at ON old_events (at);
    """)
    spec = tmp_path / "inspected.yaml"
    data = inspected(db, spec)
    assert "partitioning" not in data["tables"]["public.old_events"]
    assert [ix["name"] for ix in data["tables"]["public.old_events"]["indexes"]] == ["old_events_at"]
    text = spec.read_text()
    comment = text[:text.index("\n  public.old_events:\n")]
    assert "partitioning is not exported because its partitions end before the one after now" in comment
    # JSON has no comments: the remarks are left out, and what is written loads as a spec
    as_json = tmp_path / "inspected.json"
    assert db.cli("inspect", "--format", "json", "--out", str(as_json)).exit_code == 0
    assert "#" not in json.loads(as_json.read_text())["tables"]["public.old_events"]
    assert db.cli("plan", spec=as_json).exit_code == 0


def test_pgbouncer_is_exported_without_passwords(db, roles, secrets, tmp_path, spec_file):  # noqa: F811
    out, port = tmp_path / "out", free_port()
    spec = spec_file(pool_spec(db, roles, out, port))
    assert db.cli("render", "--out-dir", str(out), spec=spec, dsn=False).exit_code == 0
    admin = f"host=127.0.0.1 port={port} dbname=pgbouncer user={roles['admin']} password={secrets['PGRECON_TEST_ADMIN_PW']}"
    with LocalPgbouncer(out / "pgbouncer" / "pgbouncer.ini", port, roles["admin"], secrets["PGRECON_TEST_ADMIN_PW"]):
        result = db.cli("inspect", "--include", "pgbouncer", "--pgbouncer-dsn", admin, "--format", "json")
        assert result.exit_code == 0, result.stderr
        pb = result.json["pgbouncer"]
        assert pb["listen_port"] == port and pb["auth_type"] == "scram-sha-256"
        assert pb["databases"]["appdb"] == {"host": "127.0.0.1", "port": db.server.port, "dbname": db.name}
        assert pb["settings"]["pool_mode"] == "transaction" and pb["settings"]["default_pool_size"] == "5"
        assert {u["name"] for u in pb["users"]} >= {roles["app"]}
        assert all(u["password"].startswith("${PGBOUNCER_PASSWORD_") for u in pb["users"])
        assert not any(secret in result.stdout for secret in SECRETS.values())
        exported = dict(pb, admin_dsn=admin.replace(secrets["PGRECON_TEST_ADMIN_PW"], "${PGRECON_TEST_ADMIN_PW}"),
                        config_file=str(out / "pgbouncer" / "pgbouncer.ini"))
        round_trip = spec_file(json.dumps({"version": 1, "pgbouncer": exported}), "round.yaml")
        plan = db.cli("plan", spec=round_trip)
        assert plan.exit_code == 0, plan.stdout + plan.stderr
