"""Real concurrent sessions: several applies at once; an apply killed during a concurrent build."""

from __future__ import annotations

import json
import signal

import psycopg

from tests.pgtest import wait_for

SPEC = """
version: 1
tables:
  public.t:
    indexes:
      - {name: t_a, columns: [a]}
      - {name: t_b, columns: [b, a]}
"""


def _big_table(db, rows: int = 200_000) -> None:
    db.execute("CREATE TABLE t (id int PRIMARY KEY, a int, b int)")
    db.execute(f"INSERT INTO t SELECT g, g % 1000, g % 77 FROM generate_series(1, {int(rows)}) g")




def test_concurrent_applies_one_does_the_work(db, spec_file):
    _big_table(db)
    spec = spec_file(SPEC)
    procs = [db.process("apply", spec=spec) for _ in range(4)]
    outputs = [p.communicate(timeout=120) for p in procs]
    codes = [p.returncode for p in procs]
    assert codes == [0, 0, 0, 0], outputs
    workers = [out for out, _ in outputs if "Applied 2 changes" in out]
    idle = [out for out, _ in outputs if "Applied 0 changes" in out]
    assert len(workers) == 1 and len(idle) == 3, outputs
    for _, err in outputs:
        assert "already exists" not in err
        assert "Traceback" not in err
    db.assert_converged(spec)


def test_second_apply_gives_up_after_lock_wait(db, spec_file):
    _big_table(db, 1000)
    spec = spec_file(SPEC)
    holder = psycopg.connect(db.dsn, autocommit=True, application_name="other-apply")
    try:
        holder.execute("SELECT pg_advisory_lock(%s)", (0x7067726563_6F6E,))
        result = db.cli("apply", "--lock-wait", "1s", spec=spec)
    finally:
        holder.close()
    assert result.exit_code == 1
    assert "another pgrecon apply is running" in result.stderr
    assert "other-apply" in result.stderr
    assert set(db.indexes("t")) == {"t_pkey"}


def test_apply_waits_for_the_lock_then_says_how_long(db, spec_file):
    _big_table(db, 1000)
    spec = spec_file(SPEC)
    holder = psycopg.connect(db.dsn, autocommit=True, application_name="other-apply")
    try:
        holder.execute("SELECT pg_advisory_lock(%s)", (0x7067726563_6F6E,))
        proc = db.process("apply", "--lock-wait", "60s", "--format", "json", spec=spec)
        # the apply polls pg_try_advisory_lock: its first try has failed once it shows as its query
        wait_for(lambda: db.value("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgrecon' "
                                  "AND query LIKE '%pg_try_advisory_lock%'"), "the apply to wait for the lock")
        assert set(db.indexes("t")) == {"t_pkey"}  # nothing done while waiting
    finally:
        holder.close()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    report = json.loads(out)
    assert report["in_sync"] and report["waited_for_lock_s"] > 0 and report["applied"]


def test_apply_killed_during_concurrent_build_converges_on_rerun(db, spec_file):
    _big_table(db)
    spec = spec_file(SPEC)
    writer = psycopg.connect(db.dsn)  # an open write transaction makes the build wait in a known phase
    writer.execute("INSERT INTO t VALUES (0, 0, 0)")
    proc = db.process("apply", "--lock-timeout", "60s", spec=spec)
    try:
        pid = wait_for(lambda: db.value(
            "SELECT p.pid FROM pg_stat_progress_create_index p JOIN pg_stat_activity a USING (pid) "
            "WHERE a.application_name = 'pgrecon' AND p.phase LIKE 'waiting for writers%'"),
            what="the concurrent build to wait for writers")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        # The server notices the client is gone (client_connection_check_interval) and stops the build.
        wait_for(lambda: not db.value("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)),
                  what="the killed apply's backend to end")
    finally:
        writer.rollback()
        writer.close()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    left = db.indexes("t")
    assert left["t_a"][0] is False  # the interrupted build left an INVALID index behind

    plan = db.plan_json(spec)
    assert [(c["action"], c["name"]) for c in plan["changes"]] == [("create", "t_b"), ("rebuild", "t_a")]
    db.apply(spec)
    db.assert_converged(spec)
    assert all(valid for valid, _ in db.indexes("t").values())
    assert db.value("SELECT count(*) FROM t") == 200_000


def test_build_progress_is_reported_from_the_server(db, spec_file):
    """Plain progress lines (not a terminal) come from pg_stat_progress_create_index."""
    import io
    import threading

    from rich.console import Console

    from reconciler.engine.apply import ApplyOptions, run_apply
    from reconciler.resources.document import load_spec_text
    from reconciler.ui.console import ConsoleReporter
    _big_table(db, 100_000)
    writer = psycopg.connect(db.dsn)
    writer.execute("INSERT INTO t VALUES (0, 0, 0)")  # the build waits for this writer: a phase to see
    release = threading.Timer(1.5, writer.commit)
    release.start()
    out = io.StringIO()
    reporter = ConsoleReporter(Console(file=out, force_terminal=False, width=200), plain_every_s=0)
    try:
        result = run_apply(db.dsn, load_spec_text(SPEC), options=ApplyOptions(lock_timeout_ms=30_000),
                           reporter=reporter)
    finally:
        release.join()
        writer.close()
    assert result.in_sync
    text = out.getvalue()
    assert "waiting for writers before build" in text
    assert "[1/2] index create t_a on public.t" in text and "done in" in text
