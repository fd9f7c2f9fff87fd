"""Faults survived, on PostgreSQL 15 and 18. Kill points are reached deterministically (the apply
stops before a chosen statement and says so in a file, or waits on a lock we hold), never by
sleeping. Each test ends with apply converging, the plan empty, no row lost, and no temporary or
INVALID index left behind."""

from __future__ import annotations

import signal
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from dev.testing import FAST_TEST_SETTINGS, FAULT_SWITCH, FAULT_SWITCH_VALUE
from reconciler.commands.localserver import LocalServer
from tests.pgtest import Database, wait_for

ROWS = 50_000


def setup_table(db) -> None:
    db.execute("CREATE TABLE t (id int PRIMARY KEY, a int, b int)")
    db.execute(f"INSERT INTO t SELECT g, g % 500, g % 13 FROM generate_series(1, {ROWS}) g")
    db.execute("CREATE INDEX t_a ON t (a)")


REPLACE = """
version: 1
tables:
  public.t:
    indexes:
      - {name: t_a, columns: [a, b]}
      - {name: t_b, columns: [b]}
"""


def assert_clean(db, spec: Path, *apply_args: str) -> None:
    """The next apply converges; nothing temporary or INVALID is left; no row lost."""
    result = db.cli("apply", *apply_args, spec=spec)
    assert result.exit_code == 0, result.stdout + result.stderr
    db.assert_converged(spec)
    assert db.value("SELECT count(*) FROM pg_class WHERE relname LIKE '\\_pgrecon\\_%'") == 0
    assert db.value("SELECT count(*) FROM pg_index WHERE NOT indisvalid") == 0
    assert db.value("SELECT count(*) FROM t") == ROWS


def killed_at(db, spec: Path, marker: str, tmp_path: Path, *args: str) -> str:
    """Run apply in a process, let it stop before the first statement containing ``marker``,
    and kill it there with SIGKILL; returns that statement."""
    pause = tmp_path / f"paused-{abs(hash(marker))}"
    proc = db.process("apply", *args, spec=spec, module="dev.testing",
                      env={"PGRECON_PAUSE_BEFORE": marker, "PGRECON_PAUSE_FILE": str(pause),
                           FAULT_SWITCH: FAULT_SWITCH_VALUE})
    try:
        wait_for(lambda: pause.exists() or proc.poll() is not None, f"apply to reach {marker!r}")
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    wait_for(lambda: not db.value("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgrecon'"),
             "the killed apply's sessions to end", 15)
    return pause.read_text()


@pytest.mark.parametrize("marker", ["DROP INDEX CONCURRENTLY public.t_a", "RENAME TO t_a"])
def test_killed_inside_a_replace(db, spec_file, tmp_path, marker):
    setup_table(db)
    spec = spec_file(REPLACE)
    statement = killed_at(db, spec, marker, tmp_path, "--allow-hazards", "index-rebuild")
    assert marker in statement
    plan = db.plan_json(spec)
    t_a = next(c for c in plan["changes"] if c["name"] == "t_a")
    assert not any(s.startswith("CREATE INDEX") for s in t_a["sql"])  # the built replacement is kept
    assert_clean(db, spec, "--allow-hazards", "index-rebuild")
    assert "(a, b)" in db.indexes("t")["t_a"][1]


def test_killed_between_alter_system_and_reload(db, spec_file, tmp_path):
    setup_table(db)
    spec = spec_file("version: 1\npostgres:\n  settings: {work_mem: 48MB, random_page_cost: 1.5}\n")
    try:
        statement = killed_at(db, spec, "pg_reload_conf", tmp_path)
        assert "pg_reload_conf" in statement
        plan = db.plan_json(spec)
        assert {c["action"] for c in plan["changes"]} == {"reload"}  # written, not yet loaded
        assert_clean(db, spec)
        with psycopg.connect(db.dsn) as conn:
            assert conn.execute("SHOW work_mem").fetchone()[0] == "48MB"
    finally:
        with psycopg.connect(db.server.dsn(), autocommit=True) as conn:
            conn.execute("ALTER SYSTEM RESET ALL")
            conn.execute("SELECT pg_reload_conf()")


def _build_waiting(db):
    return db.value("SELECT p.pid FROM pg_stat_progress_create_index p JOIN pg_stat_activity a USING (pid) "
                    "WHERE a.application_name = 'pgrecon' AND p.phase LIKE 'waiting for writers%'")


@contextmanager
def apply_stuck_behind_a_writer(db, spec: Path):
    """An apply process whose concurrent build waits for a transaction we hold open (so the fault
    lands mid-statement); yields the process and the build's backend pid. The writer's
    transaction is rolled back on the way out."""
    writer = psycopg.connect(db.dsn)
    proc = None
    try:
        writer.execute("INSERT INTO t VALUES (0, 0, 0)")
        proc = db.process("apply", "--allow-hazards", "index-rebuild", "--lock-timeout", "60s", spec=spec)
        pid = wait_for(lambda: _build_waiting(db), "a concurrent build waiting for writers")
        yield proc, pid
    finally:
        writer.close()
        if proc is not None and proc.poll() is None:  # the test failed before the apply ended
            proc.kill()


def test_connection_terminated_mid_statement(db, spec_file):
    setup_table(db)
    spec = spec_file(REPLACE)
    with apply_stuck_behind_a_writer(db, spec) as (proc, pid):
        db.execute("SELECT pg_terminate_backend(%s)", (pid,))
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert "Traceback" not in err and ("lost the connection" in err or "terminating connection" in err), err
    assert_clean(db, spec, "--allow-hazards", "index-rebuild")


@contextmanager
def own_server(server, tmp_path: Path, **settings: str):
    """A server of ``server``'s major of the test's own (it is restarted or crashed), with the
    table of these tests in a database ``faults``; yields ``(server, database)``."""
    own = LocalServer(server.bin_dir, tmp_path / "data", {**FAST_TEST_SETTINGS, **settings})
    own.start()
    try:
        with psycopg.connect(own.dsn(), autocommit=True) as admin:
            admin.execute("CREATE DATABASE faults")
        db = Database(own, "faults")
        setup_table(db)
        yield own, db
        db.close()
    finally:
        own.stop("immediate")


def test_server_restarted_mid_apply(server, spec_file, tmp_path):
    with own_server(server, tmp_path) as (own, db):
        spec = spec_file(REPLACE)
        with apply_stuck_behind_a_writer(db, spec) as (proc, _):
            db.close()
            own.restart()
            out, err = proc.communicate(timeout=60)
        assert proc.returncode == 1 and "Traceback" not in err, err
        assert_clean(db, spec, "--allow-hazards", "index-rebuild")


def test_what_apply_reported_done_survives_a_crash_when_commits_are_asynchronous(server, spec_file, tmp_path):
    """synchronous_commit = off and a WAL writer that waits: the commit that marks a concurrent
    build valid is not written when the build returns. pgrecon's own commits are flushed, so
    after an immediate shutdown (what a crash leaves) the index is there and valid."""
    with own_server(server, tmp_path, wal_writer_delay="10s") as (own, db):
        assert db.value("SHOW synchronous_commit") == "off"
        spec = spec_file(REPLACE)
        applied = db.apply(spec, "--allow-hazards", "index-rebuild")
        assert applied.exit_code == 0, applied.stdout + applied.stderr
        db.close()
        own.stop("immediate")
        own.start()
        assert db.value("SELECT count(*) FROM pg_index WHERE NOT indisvalid") == 0
        db.assert_converged(spec)


def test_eight_applies_at_once(db, spec_file):
    setup_table(db)
    spec = spec_file(REPLACE)
    procs = [db.process("apply", "--allow-hazards", "index-rebuild", spec=spec) for _ in range(8)]
    outputs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, outputs
    workers = [o for o, _ in outputs if "Applied 2 changes" in o]
    assert len(workers) == 1, outputs
    assert sum("Applied 0 changes" in o for o, _ in outputs) == 7
    assert not any("already exists" in e or "Traceback" in e for _, e in outputs)
    assert_clean(db, spec, "--allow-hazards", "index-rebuild")
