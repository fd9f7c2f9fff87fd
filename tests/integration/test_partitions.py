"""Time partitions on real servers: a simulated year, hours, daylight saving, adoption, carving
rows out of the default partition, a killed apply, indexes on every partition, bad specs."""

from __future__ import annotations

import random
import signal
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest

from reconciler.connect.session import connect
from reconciler.engine.apply import ApplyOptions, run_apply
from reconciler.engine.planner import make_plan
from reconciler.resources.document import load_spec_text

ALLOW = ApplyOptions(allow_hazards=frozenset({"partition-detach", "partition-drop", "table-lock"}))
TABLE = """
CREATE TABLE metrics (agent int NOT NULL, value float8, at timestamptz NOT NULL) PARTITION BY RANGE (at);
"""


def spec_text(partitioning: str, indexes: str = "") -> str:
    return f"version: 1\ntables:\n  public.metrics:\n    partitioning: {partitioning}\n{indexes}"


def apply_at(db, text: str, now: datetime, options: ApplyOptions = ALLOW):
    result = run_apply(db.dsn, load_spec_text(text), options=options, now=now)
    assert result.in_sync, [(c.action, c.name, c.reason) for c in result.remaining.changes]
    return result


def plan_at(db, text: str, now: datetime):
    with connect(db.dsn) as conn:
        return make_plan(conn, load_spec_text(text), now=now)


def attached(db, parent: str = "metrics") -> dict[str, str]:
    """{partition: bound expression}."""
    return dict(db.rows("SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
                        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass", (parent,)))


def total_rows_everywhere(db) -> int:
    """Rows in the parent plus rows in every detached metrics_p* table."""
    detached = [r[0] for r in db.rows(
        "SELECT c.relname FROM pg_class c WHERE c.relname LIKE 'metrics\\_p%%' AND c.relkind = 'r' "
        "AND NOT c.relispartition")]
    count = db.value("SELECT count(*) FROM metrics")
    for name in detached:
        count += db.value(f'SELECT count(*) FROM "{name}"')
    return count


def insert(db, moments: list[datetime]) -> None:
    with db.conn.cursor() as cur:
        cur.executemany("INSERT INTO metrics VALUES (%s, %s, %s)", [(i % 7, 1.0, m) for i, m in enumerate(moments)])


def test_simulated_year_daily(db):
    """365 daily applies with --now: premake ahead, retention behind, no row lost or duplicated,
    the default partition holds no row that has a home, and the next plan is empty."""
    db.execute(TABLE)
    text = spec_text("{column: at, interval: day, premake: 7, retention: 30 days, default_partition: true}",
                     "    indexes:\n      - {name: metrics_agent_at, columns: [agent, \"at DESC\"]}\n")
    rng = random.Random(7)
    start = datetime(2026, 1, 1, 9, 30, tzinfo=UTC)
    inserted = 0
    timings = []
    for day in range(365):
        now = start + timedelta(days=day)
        if day % 45 == 5:  # rows far ahead land in the default partition and wait for their bucket
            future = [now + timedelta(days=20, hours=rng.randint(0, 23)) for _ in range(5)]
            insert(db, future)
            inserted += len(future)
        started = time.monotonic()
        apply_at(db, text, now)
        timings.append(time.monotonic() - started)
        today = [now - timedelta(minutes=rng.randint(0, 500)) for _ in range(20)]
        insert(db, today)
        inserted += len(today)

        parts = attached(db)
        today_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        for ahead in range(8):
            assert (today_start + timedelta(days=ahead)).strftime("metrics_p%Y%m%d") in parts
        cutoff = now - timedelta(days=30)
        for name in parts:
            if name != "metrics_default":
                upper = datetime.strptime(name[-8:], "%Y%m%d").replace(tzinfo=UTC) + timedelta(days=1)
                assert upper > cutoff, (day, name)
        homeless = db.value("SELECT count(*) FROM ONLY metrics_default WHERE at >= %s AND at < %s",
                            (min_lower(parts), today_start + timedelta(days=8)))
        assert homeless == 0, day
        assert total_rows_everywhere(db) == inserted
    assert db.value("SELECT count(*) FROM pg_index WHERE NOT indisvalid") == 0
    assert sum(timings) / len(timings) < 5  # sanity only; measured figures go in the README


def min_lower(parts: dict[str, str]) -> datetime:
    days = [datetime.strptime(n[-8:], "%Y%m%d").replace(tzinfo=UTC) for n in parts if n != "metrics_default"]
    return min(days)


def test_hourly_for_three_days(db):
    db.execute(TABLE)
    text = spec_text("{column: at, interval: hour, premake: 4, retention: 12 hours, retention_action: drop}")
    now = datetime(2026, 6, 1, 0, 20, tzinfo=UTC)
    for _ in range(72):
        apply_at(db, text, now)
        parts = [p for p in attached(db) if p != "metrics_default"]
        hours = sorted(datetime.strptime(p[-10:], "%Y%m%d%H").replace(tzinfo=UTC) for p in parts)
        current = now.replace(minute=0)
        assert hours[-1] == current + timedelta(hours=4)
        assert hours[0] + timedelta(hours=1) > now - timedelta(hours=12)
        assert hours == [hours[0] + timedelta(hours=i) for i in range(len(hours))]  # no gaps
        now += timedelta(hours=1)
    dropped = db.value("SELECT count(*) FROM pg_class WHERE relname LIKE 'metrics\\_p%%' AND NOT relispartition")
    assert dropped == 0  # drop mode leaves no detached tables behind


def test_daylight_saving_boundaries(db):
    db.execute(TABLE)
    tz = ZoneInfo("Europe/Berlin")
    text = spec_text("{column: at, interval: day, premake: 3, timezone: Europe/Berlin}")
    for now in (datetime(2026, 3, 27, 12, tzinfo=UTC), datetime(2026, 10, 23, 12, tzinfo=UTC)):
        apply_at(db, text, now)
    bounds = {name: db.value("SELECT upper - lower FROM (SELECT "
                             "(regexp_match(pg_get_expr(relpartbound, oid), 'FROM \\(''([^'']+)''\\)'))[1]::timestamptz AS lower, "
                             "(regexp_match(pg_get_expr(relpartbound, oid), 'TO \\(''([^'']+)''\\)'))[1]::timestamptz AS upper "
                             "FROM pg_class WHERE relname = %s) b", (name,))
              for name in attached(db) if name != "metrics_default"}
    assert bounds["metrics_p20260329"] == timedelta(hours=23)
    assert bounds["metrics_p20261025"] == timedelta(hours=25)
    assert bounds["metrics_p20260328"] == timedelta(hours=24)
    # local midnight starts each partition: a row at 00:30 Berlin time on Oct 25 goes to that day
    insert(db, [datetime(2026, 10, 25, 0, 30, tzinfo=tz), datetime(2026, 10, 25, 23, 30, tzinfo=tz)])
    assert db.value("SELECT count(*) FROM ONLY metrics_p20261025") == 2
    assert plan_at(db, text, datetime(2026, 10, 23, 12, tzinfo=UTC)).empty


def test_rows_in_default_are_carved_out_exactly_once(db):
    db.execute(TABLE + "CREATE TABLE metrics_default PARTITION OF metrics DEFAULT;")
    now = datetime(2026, 5, 10, 8, tzinfo=UTC)
    moments = [now + timedelta(hours=h) for h in range(-30, 100, 3)]
    insert(db, moments)
    assert db.value("SELECT count(*) FROM ONLY metrics_default") == len(moments)
    text = spec_text("{column: at, interval: day, premake: 3}")
    plan = plan_at(db, text, now)
    moved = {c.name: c.details.get("rows_to_move", 0) for c in plan.changes}
    assert moved["metrics_p20260509"] > 0 and sum(moved.values()) == len(moments) - db.value(
        "SELECT count(*) FROM metrics WHERE at >= '2026-05-14'")
    # up to carve_max rows (10,000 by default) moving them is routine: writes wait milliseconds
    assert not any(c.hazards for c in plan.changes)
    assert all(c.details["default_rows"] == len(moments) for c in plan.changes if c.details.get("rows_to_move"))
    # above carve_max, it is the table-lock hazard, and the plan says how many rows and bytes
    bounded = spec_text("{column: at, interval: day, premake: 3, carve_max: 5}")
    big = plan_at(db, bounded, now)
    locked = [c for c in big.changes if "table-lock" in c.hazards]
    assert locked and all(c.details["default_rows"] > 5 and c.details["default_bytes"] > 0 for c in locked)
    refused = run_apply_refused(db, bounded, now)
    assert "table-lock" in refused
    apply_at(db, text, now)
    assert db.value("SELECT count(*) FROM metrics") == len(moments)
    assert db.value("SELECT count(*) FROM ONLY metrics_default WHERE at < '2026-05-14'") == 0
    for name in attached(db):
        if name != "metrics_default":
            day = datetime.strptime(name[-8:], "%Y%m%d").replace(tzinfo=UTC)
            assert db.value(f'SELECT count(*) FROM "{name}" WHERE at < %s OR at >= %s',
                            (day, day + timedelta(days=1))) == 0


def run_apply_refused(db, text, now) -> str:
    from reconciler.base.errors import Refused
    with pytest.raises(Refused) as err:
        run_apply(db.dsn, load_spec_text(text), options=ApplyOptions(), now=now)
    return str(err.value)


def test_adoption_and_foreign_partitions(db):
    db.execute(TABLE + """
        CREATE TABLE metrics_p20260601 PARTITION OF metrics FOR VALUES FROM ('2026-06-01 00:00+00') TO ('2026-06-02 00:00+00');
        CREATE TABLE june_second PARTITION OF metrics FOR VALUES FROM ('2026-06-02 00:00+00') TO ('2026-06-03 00:00+00');
        CREATE TABLE odd PARTITION OF metrics FOR VALUES FROM ('2026-06-03 12:00+00') TO ('2026-06-04 12:00+00');
    """)
    text = spec_text("{column: at, interval: day, premake: 4, retention: 2 days, default_partition: false}")
    now = datetime(2026, 6, 1, 6, tzinfo=UTC)
    plan = plan_at(db, text, now)
    created = {c.name: (c.details["from"], c.details["to"]) for c in plan.changes if c.action == "create"}
    # 31 is premake_back; 01 is adopted; 02 is june_second's; odd [03 12:00, 04 12:00) leaves two
    # half days, which get partial partitions bounded by it; 05 is new
    assert created == {
        "metrics_p20260531": ("2026-05-31 00:00:00+00", "2026-06-01 00:00:00+00"),
        "metrics_p20260603": ("2026-06-03 00:00:00+00", "2026-06-03 12:00:00+00"),
        "metrics_p20260604_1200": ("2026-06-04 12:00:00+00", "2026-06-05 00:00:00+00"),
        "metrics_p20260605": ("2026-06-05 00:00:00+00", "2026-06-06 00:00:00+00")}
    notes = {n.name: n.message for n in plan.notes}
    assert "another name" in notes["june_second"] and "not one day bucket" in notes["odd"]
    apply_at(db, text, now)
    insert(db, [datetime(2026, 6, 3, 9, tzinfo=UTC), datetime(2026, 6, 4, 20, tzinfo=UTC)])  # both have a home
    later = datetime(2026, 6, 5, 6, tzinfo=UTC)
    plan = plan_at(db, text, later)
    detached = {c.name: c for c in plan.changes if c.action == "detach"}
    # every partition whose whole range is older than 2 days, hand-made ones too
    assert set(detached) == {"metrics_p20260531", "metrics_p20260601", "june_second"}
    assert "did not make" in detached["june_second"].reason and "did not make" not in detached["metrics_p20260601"].reason
    statement = detached["metrics_p20260601"].statements[0]
    assert statement.sql.endswith("CONCURRENTLY") and not statement.transactional  # no default partition
    assert detached["metrics_p20260601"].hazards == ("partition-detach",)
    apply_at(db, text, later)
    assert not set(detached) & set(attached(db))
    again = plan_at(db, text, datetime(2026, 6, 6, 6, tzinfo=UTC))
    assert not set(detached) & {c.name for c in again.changes}  # detached tables are not touched again
    at_last = datetime(2026, 6, 7, 13, tzinfo=UTC)
    final = plan_at(db, text, at_last)
    assert {"odd", "metrics_p20260603", "metrics_p20260604_1200"} <= {c.name for c in final.changes
                                                                      if c.action == "detach"}


def test_never_the_last_partition(db):
    db.execute(TABLE + "CREATE TABLE metrics_p20260101 PARTITION OF metrics "
                       "FOR VALUES FROM ('2026-01-01 00:00+00') TO ('2026-01-02 00:00+00');")
    text = spec_text("{column: at, interval: day, premake: 1, retention: 1 day, default_partition: false, "
                     "start: 2026-01-01}")
    plan = plan_at(db, text, datetime(2026, 1, 1, 1, tzinfo=UTC))
    assert [c.action for c in plan.changes] == ["create"]


def test_indexes_follow_every_partition(db):
    db.execute(TABLE)
    text = spec_text("{column: at, interval: day, premake: 2}",
                     "    indexes:\n      - {name: metrics_at, columns: [at]}\n"
                     "      - {name: metrics_agent, columns: [agent], where: \"value > 0\"}\n")
    now = datetime(2026, 2, 1, tzinfo=UTC)
    apply_at(db, text, now)
    apply_at(db, text, now + timedelta(days=3))
    for name in attached(db):
        indexes = db.indexes(name)
        assert len(indexes) == 2 and all(valid for valid, _ in indexes.values()), name
    plan = plan_at(db, text, now + timedelta(days=3))
    assert plan.empty and not [n for n in plan.notes if n.kind == "index"]


def test_killed_while_carving_converges(db, spec_file):
    db.execute(TABLE + "CREATE TABLE metrics_default PARTITION OF metrics DEFAULT;")
    now = datetime(2026, 7, 1, 12, tzinfo=UTC)
    insert(db, [now - timedelta(hours=h) for h in range(0, 48)])
    spec = spec_file(spec_text("{column: at, interval: day, premake: 2}"))
    blocker = psycopg.connect(db.dsn)
    # a writer's open transaction: the carve's SHARE lock on the parent waits for it, with the new
    # partition already created in the apply's transaction (the default partition is locked NOWAIT
    # after that, so a reader there makes the apply retry rather than wait)
    blocker.execute("LOCK TABLE metrics IN ROW EXCLUSIVE MODE")
    proc = db.process("apply", "--now", now.isoformat(), "--allow-hazards", "table-lock", "--lock-timeout", "60s",
                      spec=spec)
    try:
        deadline = time.monotonic() + 30
        while not db.value("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                           "WHERE a.application_name = 'pgrecon' AND NOT l.granted"):
            assert time.monotonic() < deadline, "the apply never waited for the default partition"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        blocker.rollback()
        blocker.close()
    deadline = time.monotonic() + 15
    while db.value("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgrecon'"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert db.value("SELECT count(*) FROM metrics") == 48
    result = db.cli("apply", "--now", now.isoformat(), "--allow-hazards", "table-lock", spec=spec)
    assert result.exit_code == 0, result.stderr
    assert db.value("SELECT count(*) FROM metrics") == 48
    assert db.value("SELECT count(*) FROM ONLY metrics_default") == 0


@pytest.mark.parametrize("before,partitioning,message", [
    ("CREATE TABLE metrics (at timestamptz)", "{column: at, interval: day}", "is not partitioned"),
    ("CREATE TABLE metrics (at timestamptz, b timestamptz) PARTITION BY RANGE (b)", "{column: at, interval: day}",
     "partitioned by RANGE (b), the spec says RANGE (at)"),
    ("CREATE TABLE metrics (at timestamptz) PARTITION BY LIST (at)", "{column: at, interval: day}",
     "partitioned by LIST (at)"),
    ("CREATE TABLE metrics (at int) PARTITION BY RANGE (at)", "{column: at, interval: day}",
     "needs timestamptz, timestamp or date"),
    ("CREATE TABLE metrics (at date) PARTITION BY RANGE (at)", "{column: at, interval: hour}",
     "buckets must be days or longer"),
])
def test_bad_partitioning_exits_1(db, spec_file, before, partitioning, message):
    db.execute(before)
    result = db.cli("plan", spec=spec_file(spec_text(partitioning)))
    assert result.exit_code == 1 and message in result.stderr
    assert "schema.yaml:4: tables.public.metrics.partitioning" in result.stderr


def test_json_lists_partitions_with_bounds(db, spec_file):
    db.execute(TABLE)
    result = db.cli("plan", "--format", "json", "--now", "2026-09-01T10:00:00Z",
                    spec=spec_file(spec_text("{column: at, interval: month, premake: 1}")))
    assert result.exit_code == 2
    changes = result.json["changes"]
    assert [(c["kind"], c["action"], c["name"]) for c in changes] == [
        ("partition", "create", "metrics_default"), ("partition", "create", "metrics_p202608"),  # premake_back
        ("partition", "create", "metrics_p202609"), ("partition", "create", "metrics_p202610")]
    assert changes[2]["details"] == {"from": "2026-09-01 00:00:00+00", "to": "2026-10-01 00:00:00+00"}
    assert changes[2]["table"] == "public.metrics"
    assert result.json["now"].startswith("2026-09-01T10:00:00")


def test_interrupted_concurrent_detach_is_finalized(db):
    db.execute(TABLE + "CREATE TABLE metrics_p20260101 PARTITION OF metrics "
                       "FOR VALUES FROM ('2026-01-01 00:00+00') TO ('2026-01-02 00:00+00');")
    reader = psycopg.connect(db.dsn)
    reader.execute("SELECT count(*) FROM metrics")  # an old snapshot: the detach waits for it
    detacher = psycopg.connect(db.dsn, autocommit=True)
    pid = detacher.info.backend_pid
    import threading
    failure = []
    thread = threading.Thread(target=lambda: _expect_failure(detacher, failure))
    thread.start()
    deadline = time.monotonic() + 20
    while not db.value("SELECT inhdetachpending FROM pg_inherits WHERE inhrelid = 'metrics_p20260101'::regclass"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    db.execute("SELECT pg_terminate_backend(%s)", (pid,))
    thread.join(timeout=10)
    reader.rollback()
    reader.close()
    assert failure
    text = spec_text("{column: at, interval: day, premake: 1, default_partition: false, start: 2026-01-01}")
    now = datetime(2026, 1, 1, 5, tzinfo=UTC)
    plan = plan_at(db, text, now)
    assert [(c.action, c.name) for c in plan.changes] == [("create", "metrics_p20260102"),
                                                         ("finalize", "metrics_p20260101")]
    apply_at(db, text, now)
    assert "metrics_p20260101" not in attached(db)


def _expect_failure(conn, failure):
    try:
        conn.execute("ALTER TABLE metrics DETACH PARTITION metrics_p20260101 CONCURRENTLY")
    except psycopg.Error as exc:
        failure.append(exc)
