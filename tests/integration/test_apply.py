"""apply on real servers: INVALID indexes, hazards, saved plans, lock timeouts, constraints."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from tests.pgtest import actions

TABLE = """
CREATE TABLE t (id int PRIMARY KEY, email text, a int, b int);
INSERT INTO t SELECT g, 'u' || g || '@x', g % 10, g % 100 FROM generate_series(1, 2000) g;
"""

SPEC_UNIQUE = """
version: 1
tables:
  public.t:
    indexes:
      - {name: t_email, columns: [email], unique: true}
"""


def _make_invalid_unique_index(db):
    """A real failed CREATE UNIQUE INDEX CONCURRENTLY: duplicates make it fail, leaving it INVALID."""
    db.execute("UPDATE t SET email = 'dup@x' WHERE id IN (1, 2)")
    with pytest.raises(psycopg.errors.UniqueViolation):
        db.execute("CREATE UNIQUE INDEX CONCURRENTLY t_email ON t (email)")
    assert db.indexes("t")["t_email"][0] is False
    db.execute("UPDATE t SET email = 'u2@x' WHERE id = 2")


def test_invalid_index_is_rebuilt(db, spec_file):
    db.execute(TABLE)
    _make_invalid_unique_index(db)
    spec = spec_file(SPEC_UNIQUE)
    plan = db.plan_json(spec)
    assert actions(plan) == [("index", "rebuild", "t_email")]
    assert plan["changes"][0]["hazards"] == []
    assert "INVALID" in plan["changes"][0]["reason"]
    db.apply(spec)
    db.assert_converged(spec)
    assert db.indexes("t")["t_email"][0] is True


def test_failed_build_leaves_no_invalid_index(db, spec_file):
    """A build the server refuses at apply time is cleaned up; the error names the change."""
    db.execute(TABLE)
    db.execute("UPDATE t SET email = 'dup@x' WHERE id IN (1, 2)")
    spec = spec_file(SPEC_UNIQUE)
    result = db.cli("apply", spec=spec)
    assert result.exit_code == 1
    assert "index create t_email on public.t failed" in result.stderr
    assert "could not create unique index" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "t_email" not in db.indexes("t")


def test_hazards_must_be_allowed(db, spec_file):
    db.execute(TABLE + "CREATE INDEX t_a ON t (a); CREATE INDEX t_extra ON t (b);")
    spec = spec_file("""
version: 1
tables:
  public.t:
    prune_unmanaged_indexes: true
    indexes:
      - {name: t_a, columns: [a, b]}
""")
    plan = db.plan_json(spec)
    assert {(c["name"], tuple(c["hazards"])) for c in plan["changes"]} == {
        ("t_a", ("index-rebuild",)), ("t_extra", ("index-drop",))}
    assert plan["changes"][1]["destructive"] is True
    before = db.indexes("t")
    refused = db.cli("apply", "--allow-hazards", "index-rebuild", spec=spec)
    assert refused.exit_code == 1
    assert "index-drop" in refused.stderr and "nothing was applied" in refused.stderr
    assert db.indexes("t") == before
    unknown = db.cli("apply", "--allow-hazards", "everything", spec=spec)
    assert unknown.exit_code == 1 and "unknown hazard everything" in unknown.stderr
    db.apply(spec, "--allow-hazards", "index-rebuild,index-drop")
    db.assert_converged(spec)
    assert set(db.indexes("t")) == {"t_pkey", "t_a"}


def test_constraint_indexes_are_never_dropped_or_replaced(db, spec_file):
    db.execute(TABLE + "ALTER TABLE t ADD CONSTRAINT t_email_key UNIQUE (email);")
    prune = spec_file("""
version: 1
tables:
  public.t:
    prune_unmanaged_indexes: true
    indexes: []
""")
    plan = db.plan_json(prune)
    assert plan["changes"] == []
    assert {n["name"] for n in plan["notes"]} == {"t_pkey", "t_email_key"}
    clash = spec_file("""
version: 1
tables:
  public.t:
    indexes:
      - {name: t_email_key, columns: [email, a]}
""", "clash.yaml")
    result = db.cli("plan", spec=clash)
    assert result.exit_code == 1
    assert "clash.yaml:6: tables.public.t.indexes[0]" in result.stderr
    assert "backs constraint t_email_key" in result.stderr
    twin = spec_file("""
version: 1
tables:
  public.t:
    indexes:
      - {name: t_email_unique, columns: [email], unique: true}
""", "twin.yaml")
    plan = db.plan_json(twin)  # a twin of the constraint's index: redundant, built with a note
    assert [(c["action"], c["name"]) for c in plan["changes"]] == [("create", "t_email_unique")]
    assert any("same definition as t_email_key" in n["message"] for n in plan["notes"])


def test_saved_plan_is_applied_exactly_or_refused(db, spec_file, tmp_path):
    db.execute(TABLE)
    spec = spec_file("""
version: 1
tables:
  public.t:
    indexes:
      - {name: t_a, columns: [a]}
""")
    saved = tmp_path / "plan.json"
    result = db.cli("plan", "--out", str(saved), spec=spec)
    assert result.exit_code == 2 and saved.exists()
    assert db.dsn not in saved.read_text()
    db.execute("CREATE INDEX t_b_by_hand ON t (b)")  # the live state moves on
    refused = db.cli("apply", str(saved), spec=spec)
    assert refused.exit_code == 1 and "changed since the saved plan" in refused.stderr
    assert "t_a" not in db.indexes("t")

    result = db.cli("plan", "--out", str(saved), spec=spec)
    spec.write_text(spec.read_text() + "\n# edited\n")
    refused = db.cli("apply", str(saved), spec=spec)
    assert refused.exit_code == 1 and "another version of the spec" in refused.stderr

    db.cli("plan", "--out", str(saved), spec=spec)
    db.apply(spec, str(saved))
    db.assert_converged(spec)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = db.cli("apply", str(bad), spec=spec)
    assert result.exit_code == 1 and "not a pgrecon plan file" in result.stderr


def test_lock_timeout_retries_then_names_the_blocker(db, spec_file):
    db.execute(TABLE + "CREATE INDEX legacy ON t (b);")
    spec = spec_file("""
version: 1
target: {lock_timeout: 300ms, lock_retries: 2}
tables:
  public.t:
    indexes:
      - {name: t_a, columns: [a]}
""")
    blocker = psycopg.connect(db.dsn, application_name="blocking-report")
    try:
        blocker.execute("LOCK TABLE t IN EXCLUSIVE MODE")  # plan can read it, the build must wait
        started = time.monotonic()
        result = db.cli("apply", spec=spec)
        elapsed = time.monotonic() - started
    finally:
        blocker.rollback()
        blocker.close()
    assert result.exit_code == 1
    assert "could not get a SHARE UPDATE EXCLUSIVE lock" in result.stderr
    assert "after 3 attempts" in result.stderr
    assert "blocking-report" in result.stderr
    assert result.stderr.count("retry") == 2
    assert elapsed >= 0.9  # three lock waits of 300 ms, plus backoff between them
    assert "legacy" in db.indexes("t") and "t_a" not in db.indexes("t")
    db.apply(spec)
    db.assert_converged(spec)


def test_lock_released_in_time_is_retried_successfully(db, spec_file):
    db.execute(TABLE)
    spec = spec_file("""
version: 1
target: {lock_timeout: 200ms, lock_retries: 5}
tables:
  public.t:
    indexes:
      - {name: t_a, columns: [a]}
""")
    blocker = psycopg.connect(db.dsn)
    blocker.execute("LOCK TABLE t IN SHARE ROW EXCLUSIVE MODE")
    timer = threading.Timer(1.0, blocker.rollback)
    timer.start()
    try:
        result = db.cli("apply", spec=spec)
    finally:
        timer.join()
        blocker.close()
    assert result.exit_code == 0, result.stderr
    assert "retry 1" in result.stderr
    db.assert_converged(spec)


def test_an_idle_session_timeout_does_not_lose_the_blockers_name(db, spec_file):
    """While an apply waits for another apply's lock, its monitoring session sits idle; a role's or
    database's idle_session_timeout must not end it, or a lock timeout could not name its blocker."""
    from reconciler.engine.apply.locking import APPLY_LOCK_KEY
    db.execute(TABLE)
    db.execute(f"ALTER DATABASE {db.name} SET idle_session_timeout = '300ms'")
    spec = spec_file("version: 1\ntarget: {lock_timeout: 300ms, lock_retries: 0}\n"
                     "tables:\n  public.t:\n    indexes:\n      - {name: t_a, columns: [a]}\n")
    other_apply = psycopg.connect(db.dsn, autocommit=True, options="-c idle_session_timeout=0")
    blocker = psycopg.connect(db.dsn, application_name="blocking-report", options="-c idle_session_timeout=0")
    try:
        other_apply.execute("SELECT pg_advisory_lock(%s)", (APPLY_LOCK_KEY,))
        blocker.execute("LOCK TABLE t IN EXCLUSIVE MODE")
        timer = threading.Timer(1.5, other_apply.execute, ("SELECT pg_advisory_unlock_all()",))
        timer.start()
        result = db.cli("apply", spec=spec)
        timer.join()
    finally:
        blocker.rollback()
        blocker.close()
        other_apply.close()
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "could not get a SHARE UPDATE EXCLUSIVE lock" in result.stderr
    assert "blocking-report" in result.stderr, result.stderr
    db.execute(f"ALTER DATABASE {db.name} RESET idle_session_timeout")
    db.apply(spec)
    db.assert_converged(spec)


def test_extension_created_before_the_index_that_needs_it(db, spec_file):
    db.execute("CREATE TABLE t (name text)")
    spec = spec_file("""
version: 1
extensions: [pg_trgm]
tables:
  public.t:
    indexes:
      - {name: t_trgm, using: gin, columns: ["name gin_trgm_ops"]}
""")
    plan = db.plan_json(spec)
    assert actions(plan) == [("extension", "create", "pg_trgm"), ("index", "create", "t_trgm")]
    assert db.value("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'") == 0  # plan wrote nothing
    db.apply(spec)
    db.assert_converged(spec)


def test_plan_formats(db, spec_file):
    db.execute(TABLE + "CREATE INDEX t_extra ON t (b);")
    spec = spec_file("""
version: 1
tables:
  public.t:
    indexes:
      - {name: t_a, columns: [a], where: "b > 5"}
""")
    text = db.cli("plan", spec=spec)
    assert text.exit_code == 2
    assert "index create t_a on public.t" in text.stdout
    assert "CREATE INDEX CONCURRENTLY t_a ON public.t USING btree (a) WHERE (b > 5);" in text.stdout
    assert "unmanaged" in text.stdout and "t_extra" in text.stdout
    md = db.cli("plan", "--format", "markdown", spec=spec)
    assert md.exit_code == 2 and "| 1 | index | create | `t_a` | `public.t` |" in md.stdout
    script = db.cli("plan", "--format", "sql", spec=spec)
    assert script.exit_code == 2 and "\\set ON_ERROR_STOP on" in script.stdout
    # the psql script does what apply would do
    import subprocess
    psql = db.server.binary("psql")
    run = subprocess.run([str(psql), db.dsn, "-q", "-v", "ON_ERROR_STOP=1"], input=script.stdout,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    db.assert_converged(spec)
    bad = db.cli("plan", "--format", "yaml", spec=spec)
    assert bad.exit_code == 1 and "--format must be one of" in bad.stderr


def test_a_transaction_timeout_on_the_database_does_not_cut_an_index_build(db18, spec_file):
    """PostgreSQL 17+ ends a transaction — a lone CREATE INDEX CONCURRENTLY too — that outlives
    transaction_timeout; apply times its statements itself (builds: build_timeout, none by default)."""
    db18.execute("CREATE TABLE big (id int, v int)")
    db18.execute("INSERT INTO big SELECT g, g % 1000 FROM generate_series(1, 400000) g")
    db18.execute(f"ALTER DATABASE {db18.name} SET transaction_timeout = '100ms'")
    spec = spec_file("version: 1\ntables:\n  public.big:\n    indexes:\n      - {name: big_v, columns: [v, id]}\n")
    applied = db18.apply(spec)
    assert applied.exit_code == 0, applied.stdout + applied.stderr
    db18.execute(f"ALTER DATABASE {db18.name} RESET transaction_timeout")
    db18.assert_converged(spec)
