"""Partitions on autopilot: a nightly apply that never stalls. Routine creates take no lock that
keeps writers waiting for work that grows with data; retention needs only its own hazard;
--skip-refused keeps creating while a human looks at the rest; 120 simulated nights with late
and early rows, hand-made partitions and a DST time zone, on PostgreSQL 15 and 18."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg

from tests.pgtest import wait_for

TABLE = "CREATE TABLE events (id bigserial, at timestamptz NOT NULL, v int) PARTITION BY RANGE (at);"


def spec(tmp_path, partitioning: str, name: str = "schema.yaml"):
    path = tmp_path / name
    path.write_text(f"version: 1\ntables:\n  public.events:\n    partitioning: {partitioning}\n")
    return path


def test_routine_premake_with_rows_in_the_default_partition_keeps_writers_going(db, tmp_path):
    """100 early rows wait in the default partition for a day ten days ahead: tomorrow's premake
    partition moves none of them, has no hazard, and while it waits for a reader of the default
    partition it holds no lock on the table: a writer keeps inserting all the while."""
    db.execute(TABLE)
    now = datetime(2027, 1, 5, 12, tzinfo=UTC)
    path = spec(tmp_path, "{column: at, interval: day, premake: 3, default_partition: true}")
    assert db.cli("apply", "--now", now.isoformat(), spec=path).exit_code == 0
    early = now + timedelta(days=10)
    db.execute("INSERT INTO events (at, v) SELECT %s, g FROM generate_series(1, 100) g", (early,))
    tomorrow = now + timedelta(days=1)
    plan = json.loads(db.cli("plan", "--format", "json", "--now", tomorrow.isoformat(), spec=path).stdout)
    [create] = [c for c in plan["changes"] if c["action"] == "create"]
    assert create["name"] == "events_p20270109" and create["hazards"] == []
    assert create["details"]["rows_to_move"] == 0 and create["details"]["default_rows"] == 100
    assert "SHARE" in create["locks"] and "ACCESS EXCLUSIVE" not in create["locks"]

    errors: list[str] = []
    written = []
    stop = threading.Event()

    def writer() -> None:
        with psycopg.connect(db.dsn, autocommit=True, application_name="writer") as conn:
            conn.execute("SET statement_timeout = '10s'")
            while not stop.is_set():
                try:
                    conn.execute("INSERT INTO events (at, v) VALUES (%s, 1)", (tomorrow,))
                    written.append(time.monotonic())
                except psycopg.Error as exc:
                    errors.append(str(exc))

    reader = psycopg.connect(db.dsn)                       # holds the default partition: the create must wait
    reader.execute("SELECT count(*) FROM ONLY events_default").fetchone()
    thread = threading.Thread(target=writer)
    thread.start()
    proc = db.process("apply", "--now", tomorrow.isoformat(), spec=path)
    try:
        wait_for(lambda: db.value("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgrecon' "
                                  "AND state IS NOT NULL") > 0, "apply to start")
        time.sleep(1.5)                                    # the apply is retrying: the reader is still there
        before = len(written)
        held = db.rows("SELECT l.mode FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                       "WHERE a.application_name = 'pgrecon' AND l.relation = 'events'::regclass AND l.granted")
        time.sleep(1.0)
        assert len(written) > before + 10, "the writer stalled while the apply waited"
        assert ("ACCESS EXCLUSIVE",) not in held and ("AccessExclusiveLock",) not in held
        assert proc.poll() is None                          # still retrying, holding nothing on the table
        reader.rollback()
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, out + err
    finally:
        stop.set()
        thread.join()
        reader.close()
        if proc.poll() is None:
            proc.kill()
    assert errors == []
    assert "retry" in err                                   # it waited for the reader, then went on
    assert db.value("SELECT count(*) FROM ONLY events_default") == 100
    assert db.value("SELECT count(*) FROM events WHERE at = %s", (tomorrow,)) == len(written)


def test_retention_needs_only_its_hazard_and_skip_refused_keeps_creating(db, tmp_path):
    db.execute(TABLE)
    now = datetime(2027, 3, 1, 12, tzinfo=UTC)
    path = spec(tmp_path, "{column: at, interval: day, premake: 2, retention: 3 days, retention_action: drop, "
                          "default_partition: true}")
    assert db.cli("apply", "--now", now.isoformat(), spec=path).exit_code == 0
    later = now + timedelta(days=4)
    plan = json.loads(db.cli("plan", "--format", "json", "--now", later.isoformat(), spec=path).stdout)
    drops = [c for c in plan["changes"] if c["action"] == "drop"]
    assert drops and all(c["hazards"] == ["partition-drop"] for c in drops)  # no table-lock for a brief lock
    assert all(c["hazards"] == [] for c in plan["changes"] if c["action"] == "create")

    refused = db.cli("apply", "--now", later.isoformat(), spec=path)
    assert refused.exit_code == 1 and "partition-drop" in refused.stderr    # all-or-nothing by default
    skipped = db.cli("apply", "--now", later.isoformat(), "--skip-refused", "--format", "json", spec=path)
    assert skipped.exit_code == 2, skipped.stdout + skipped.stderr
    data = skipped.json
    assert {c["name"] for c in data["refused"]} == {c["name"] for c in drops}
    assert {a["name"] for a in data["applied"]} == {c["name"] for c in plan["changes"] if c["action"] == "create"}
    text = db.cli("apply", "--now", later.isoformat(), "--skip-refused", spec=path)
    assert text.exit_code == 2 and "refused (--skip-refused)" in text.stdout
    assert db.cli("apply", "--now", later.isoformat(), "--allow-hazards", "partition-drop", spec=path).exit_code == 0


def test_120_nights(db, tmp_path):
    """Every night: rows arrive late (yesterday) and a few early (beyond premake); hand-made
    partitions with exact and odd bounds; Europe/Berlin days (DST); only partition-drop allowed.
    Every apply exits 0, no row is lost, the default partition holds no row whose range has a
    partition, and no partition older than retention remains."""
    berlin = ZoneInfo("Europe/Berlin")
    db.execute(TABLE)
    start = datetime(2027, 2, 1, 2, 30, tzinfo=berlin)      # crosses the DST change of 2027-03-28
    # made by hand before pgrecon: one with a bucket's exact bounds, one from 06:00 to 06:00
    db.execute("CREATE TABLE events_handmade PARTITION OF events FOR VALUES FROM ('2027-02-03 00:00+01') "
               "TO ('2027-02-04 00:00+01')")
    db.execute("CREATE TABLE events_odd PARTITION OF events FOR VALUES FROM ('2027-02-06 06:00+01') "
               "TO ('2027-02-07 06:00+01')")
    path = spec(tmp_path, "{column: at, interval: day, timezone: Europe/Berlin, premake: 4, premake_back: 2, "
                          "retention: 14 days, retention_action: drop, default_partition: true}")
    first = db.cli("apply", "--allow-hazards", "partition-drop", "--now", (start - timedelta(days=1)).isoformat(),
                   spec=path)
    assert first.exit_code == 0, first.stderr   # the setup: a default partition and the first days
    inserted = dropped = 0
    for night in range(120):
        now = start + timedelta(days=night)
        rows = [now - timedelta(hours=20), now - timedelta(hours=1), now + timedelta(hours=3)]  # late, recent
        if night % 10 == 3:
            rows += [now + timedelta(days=9, hours=h) for h in range(3)]                           # early
        with db.conn.cursor() as cur:
            cur.executemany("INSERT INTO events (at, v) VALUES (%s, %s)", [(r, night) for r in rows])
        inserted += len(rows)
        plan = json.loads(db.cli("plan", "--format", "json", "--now", now.isoformat(), spec=path).stdout)
        for change in plan["changes"]:
            if change["action"] == "drop":   # retention: its rows go with it, on purpose
                dropped += db.value(f'SELECT count(*) FROM "{change["name"]}"')
            else:
                assert change["hazards"] == [], (night, change)
        result = db.cli("apply", "--allow-hazards", "partition-drop", "--now", now.isoformat(), spec=path)
        assert result.exit_code == 0, (night, result.stdout, result.stderr)
        assert db.value("SELECT count(*) FROM events") == inserted - dropped, night   # no row lost
        cutoff = now - timedelta(days=14)
        # no partition whose whole range is older than retention remains
        old = db.rows("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                      "WHERE i.inhparent = 'events'::regclass AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT' "
                      "AND (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \\(''([^'']+)''\\)'))[1]::timestamptz "
                      "<= %s", (cutoff,))
        assert old == [], (night, old)
        # the default partition holds no row whose range has a partition
        homeless = db.value("SELECT count(*) FROM ONLY events_default d WHERE EXISTS (SELECT 1 FROM pg_inherits i "
                            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass "
                            "AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT' "
                            "AND d.at >= (regexp_match(pg_get_expr(c.relpartbound, c.oid), "
                            "'FROM \\(''([^'']+)''\\)'))[1]::timestamptz "
                            "AND d.at < (regexp_match(pg_get_expr(c.relpartbound, c.oid), "
                            "'TO \\(''([^'']+)''\\)'))[1]::timestamptz)")
        assert homeless == 0, night
    assert dropped > 0 and db.value("SELECT count(*) FROM events") > 0
    # the hand-made partitions were retired like the others
    assert db.value("SELECT count(*) FROM pg_class WHERE relname IN ('events_handmade', 'events_odd')") == 0
    assert db.cli("plan", "--now", (start + timedelta(days=119)).isoformat(), spec=path).exit_code == 0
