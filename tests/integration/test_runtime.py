"""Runtime helpers on PostgreSQL 15 and 18 (and a real PgBouncer): COPY round-trips, upserts,
bulk updates, the pending buffer under failure, the TTL cache, the pool across a restart,
prepared statements in transaction pooling, statement timings."""

from __future__ import annotations

import datetime as dt
import decimal
import ipaddress
import logging
import threading
import uuid
from pathlib import Path

import psycopg
import pytest

from dev.testing import FAST_TEST_SETTINGS
from reconciler.commands.localserver import LocalServer, free_port
from reconciler.resources.document import load_spec_text
from reconciler.runtime import (
    BatchWriter,
    FlushError,
    PendingBuffer,
    PreparedStatements,
    QueryCache,
    QueryTimings,
    instrument,
    pool_from_spec,
    pooling_allows_prepare,
)
from tests.pgbouncer_local import LocalPgbouncer
from tests.pgtest import wait_for

ALL_TYPES = """
CREATE TABLE everything (
    id int8 PRIMARY KEY, i2 int2, i4 int4, num numeric, f4 float4, f8 float8, b bool, t text,
    vc varchar(20), ch char(3), raw bytea, d date, tm time, ts timestamp, tstz timestamptz,
    span interval, u uuid, j json, jb jsonb, addr inet, net cidr, ints int4[], texts text[]
)"""
COLUMNS = ["id", "i2", "i4", "num", "f4", "f8", "b", "t", "vc", "ch", "raw", "d", "tm", "ts", "tstz", "span", "u",
           "j", "jb", "addr", "net", "ints", "texts"]


def sample(i: int) -> tuple:
    return (i, i % 100, i * 7, decimal.Decimal(f"{i}.25"), 1.5, i / 3, i % 2 == 0, f"text {i} 'quoted'",
            f"vc{i}", "abc", bytes([i % 256, 0, 255]), dt.date(2026, 1, 1) + dt.timedelta(days=i),
            dt.time(12, i % 60), dt.datetime(2026, 1, 1, 8, 30) + dt.timedelta(minutes=i),
            dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=i), dt.timedelta(hours=i),
            uuid.UUID(int=i), {"n": i}, {"nested": [i, "x"]}, ipaddress.ip_address(f"10.0.{i % 256}.1"),
            ipaddress.ip_network("10.1.0.0/16"), [i, i + 1], ["a", None, f"b{i}"])


def test_copy_round_trip_of_all_supported_types(db):
    db.execute(ALL_TYPES)
    writer = BatchWriter(db.conn, "everything", COLUMNS)
    assert writer.binary is False  # char(n) has no binary dumper: the whole COPY goes as text
    binary = BatchWriter(db.conn, "everything", [c for c in COLUMNS if c != "ch"])
    assert binary.binary is True
    rows = [sample(i) for i in range(1, 301)]
    assert writer.insert(rows[:150]) == 150
    assert binary.insert([tuple(v for c, v in zip(COLUMNS, r, strict=True) if c != "ch") for r in rows[150:]]) == 150
    db.execute("UPDATE everything SET ch = 'abc' WHERE ch IS NULL")
    back = db.rows(f"SELECT {', '.join(COLUMNS)} FROM everything ORDER BY id")
    for want, got in zip(rows, back, strict=True):
        for column, a, b in zip(COLUMNS, want, got, strict=True):
            if column == "f4":
                assert abs(a - b) < 1e-6
            elif column == "j":
                assert b == a
            else:
                assert a == b, (column, a, b)


def test_types_without_binary_support_use_text_copy(db):
    db.execute("CREATE TYPE mood AS ENUM ('calm', 'busy'); CREATE TABLE m (id int PRIMARY KEY, state mood)")
    writer = BatchWriter(db.conn, "public.m", ["id", "state"])
    assert writer.binary is False
    assert writer.insert([(1, "calm"), (2, "busy")]) == 2
    assert db.rows("SELECT id, state::text FROM m ORDER BY id") == [(1, "calm"), (2, "busy")]


def test_upsert_and_bulk_update(db):
    db.execute("CREATE TABLE agents (id int PRIMARY KEY, name text NOT NULL, status text NOT NULL DEFAULT 'idle')")
    writer = BatchWriter(db.conn, "agents", ["id", "name", "status"])
    writer.insert([(i, f"a{i}", "idle") for i in range(1, 1001)])
    affected = writer.upsert([(i, f"renamed{i}", "active") for i in range(900, 1101)], key=["id"],
                             update=["name"])
    assert affected == 201
    assert db.value("SELECT count(*) FROM agents") == 1100
    assert db.rows("SELECT name, status FROM agents WHERE id IN (899, 900, 1100) ORDER BY id") == [
        ("a899", "idle"), ("renamed900", "idle"), ("renamed1100", "active")]
    updated = writer.update([(i, f"s{i % 7}") for i in range(1, 801)], key=["id"], columns=["status"])
    assert updated == 800
    assert db.value("SELECT count(*) FROM agents WHERE id <= 800 AND status <> 's' || (id % 7)") == 0
    assert db.value("SELECT count(*) FROM agents WHERE id > 800 AND status LIKE 's%'") == 0
    with pytest.raises(ValueError):
        writer.update([(1, "x")], key=["id"], columns=["nope"])


def test_buffer_flushes_by_size_age_and_close(db):
    db.execute("CREATE TABLE events (id int PRIMARY KEY, v text)")
    writer = BatchWriter(db.conn, "events", ["id", "v"])
    now = [0.0]
    buffer = PendingBuffer(writer.insert, max_rows=100, max_age_s=5, clock=lambda: now[0], at_exit=False)
    for i in range(250):
        buffer.add((i, "x"))
    assert db.value("SELECT count(*) FROM events") == 200 and len(buffer) == 50  # two size flushes
    now[0] = 4.9
    buffer.tick()
    assert len(buffer) == 50
    now[0] = 5.0
    buffer.tick()  # the oldest waited 5s
    assert len(buffer) == 0 and db.value("SELECT count(*) FROM events") == 250
    buffer.add((250, "y"))
    buffer.close()
    assert db.value("SELECT count(*) FROM events") == 251


def test_buffer_timer_flushes_rows_nobody_added_after(db):
    """With the background timer, a row left alone is written once it is max_age_s old."""
    db.execute("CREATE TABLE events (id int PRIMARY KEY, v text)")
    with psycopg.connect(db.dsn, autocommit=True) as conn:  # the timer thread's own connection
        buffer = PendingBuffer(BatchWriter(conn, "events", ["id", "v"]).insert, max_rows=100, max_age_s=0.05,
                               at_exit=False)
        buffer.start_timer(0.01)
        buffer.add((1, "x"))  # no add or tick after this one
        wait_for(lambda: db.value("SELECT count(*) FROM events") == 1, "the timer to flush the row")
        assert len(buffer) == 0
        buffer.close()
    assert db.value("SELECT count(*) FROM events") == 1


def test_buffer_keeps_every_row_exactly_once_when_a_flush_fails(db):
    db.execute("CREATE TABLE events (id int PRIMARY KEY, v text)")
    conn = {"c": psycopg.connect(db.dsn, autocommit=True)}

    def flush(rows):
        BatchWriter(conn["c"], "events", ["id", "v"]).insert(rows)

    buffer = PendingBuffer(flush, max_rows=1000, max_age_s=3600, at_exit=False)
    for i in range(1500):
        buffer.add((i, "x"))  # the first 1000 are written
    db.execute("SELECT pg_terminate_backend(%s)", (conn["c"].info.backend_pid,))
    for i in range(1500, 1999):
        buffer.add((i, "x"))
    with pytest.raises(FlushError) as failure:
        buffer.add((1999, "x"))  # the 1000th waiting row triggers a flush on a dead connection
    assert len(failure.value.rows) == 1000 and len(buffer) == 1000
    assert db.value("SELECT count(*) FROM events") == 1000
    conn["c"] = psycopg.connect(db.dsn, autocommit=True)
    buffer.close()
    assert db.rows("SELECT count(*), count(DISTINCT id), min(id), max(id) FROM events") == [(2000, 2000, 0, 1999)]
    assert buffer.failed_flushes == 1 and buffer.flushed_rows == 2000


def test_query_cache_ttl_size_invalidation_threads(db):
    db.execute("CREATE TABLE c (id int); INSERT INTO c VALUES (1)")
    now = [100.0]
    cache = QueryCache(maxsize=3, ttl=10, clock=lambda: now[0])
    query = "SELECT count(*) FROM c WHERE id > %s"
    assert cache.execute(db.conn, query, (0,)) == [(1,)]
    db.execute("INSERT INTO c VALUES (2)")
    assert cache.execute(db.conn, query, (0,)) == [(1,)]  # cached
    now[0] += 10.5
    assert cache.execute(db.conn, query, (0,)) == [(2,)]  # expired, reloaded
    stats = cache.stats()
    assert (stats["hits"], stats["misses"], stats["expired"]) == (1, 2, 1)
    for i in range(1, 4):
        cache.execute(db.conn, query, (i,))
    assert cache.stats()["size"] == 3 and cache.stats()["evictions"] == 1
    assert cache.invalidate(query=query) == 3 and cache.stats()["size"] == 0
    assert cache.execute(db.conn, "SELECT 42", key="answer") == [(42,)]
    assert cache.invalidate(key="answer") == 1

    shared = QueryCache(maxsize=50, ttl=60)
    loads = []

    def work(n):
        for i in range(200):
            shared.get_or_load(i % 40, lambda i=i: loads.append(i) or i)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = shared.stats()
    assert stats["hits"] + stats["misses"] == 1600 and stats["size"] == 40 and len(loads) == stats["misses"]


def test_pool_survives_a_server_restart(server, tmp_path):
    own = LocalServer(server.bin_dir, tmp_path / "data", dict(FAST_TEST_SETTINGS))
    own.start()
    try:
        spec = load_spec_text("version: 1\npgbouncer:\n  settings: {default_pool_size: 4, min_pool_size: 2}\n")
        pool = pool_from_spec(spec, own.dsn())
        try:
            assert (pool.min_size, pool.max_size) == (2, 4)
            with pool.connection() as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
            own.restart()
            for _ in range(6):  # every connection the pool had is dead; none is handed out
                with pool.connection() as conn:
                    assert conn.execute("SELECT 2").fetchone() == (2,)
            stats = pool.get_stats()
            assert stats["connections_lost"] >= 1 and stats["requests_num"] >= 7
        finally:
            pool.close()
    finally:
        own.stop("immediate")


def test_prepared_statements_through_pgbouncer_transaction_pooling(db, tmp_path):
    db.execute("CREATE TABLE agents (id int PRIMARY KEY, template text); "
               "INSERT INTO agents SELECT g, 'explorer' FROM generate_series(1, 100) g")
    port = free_port()
    (tmp_path / "users.txt").write_text('"postgres" ""\n')
    (tmp_path / "pgbouncer.ini").write_text(
        f"[databases]\nappdb = host=127.0.0.1 port={db.server.port} dbname={db.name}\n"
        f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nauth_type = trust\n"
        f"auth_file = {tmp_path / 'users.txt'}\npool_mode = transaction\ndefault_pool_size = 3\n"
        f"unix_socket_dir =\nadmin_users = postgres\n")
    spec = load_spec_text("version: 1\npgbouncer:\n  settings: {pool_mode: transaction}\n  version: '1.18'\n")
    assert pooling_allows_prepare(spec) is False
    assert pooling_allows_prepare(load_spec_text(
        "version: 1\npgbouncer:\n  settings: {pool_mode: transaction, max_prepared_statements: 100}\n"
        "  version: '1.21'\n")) is True
    statements = PreparedStatements.for_spec(spec)
    assert statements.server_side is False
    statements.register("by_template", "SELECT count(*) FROM agents WHERE template = %s AND id > %s")
    with LocalPgbouncer(tmp_path / "pgbouncer.ini", port, "postgres") as bouncer:
        dsn = bouncer.dsn("appdb", "postgres")
        clients = [psycopg.connect(dsn, autocommit=True, prepare_threshold=None) for _ in range(4)]
        try:
            for i in range(60):  # transactions from 4 clients on 3 server connections
                client = clients[i % 4]
                assert statements.execute(client, "by_template", ("explorer", i)).fetchone() == (100 - i,)
        finally:
            for c in clients:
                c.close()
        pools = [p for p in bouncer.show("POOLS") if p["database"] == "appdb"]
        assert pools[0]["pool_mode"] == "transaction"
    assert statements.executions["by_template"] == 60


def test_statement_timings_and_slow_log(db, caplog):
    timings = QueryTimings(slow_ms=100)
    conn = instrument(psycopg.connect(db.dsn, autocommit=True), timings)
    with caplog.at_level(logging.WARNING, logger="pgrecon.queries"):
        conn.execute("SELECT 1")
        conn.execute("SELECT 1")
        conn.execute("SELECT pg_sleep(0.15)")
    conn.close()
    summary = {row["statement"]: row for row in timings.summary()}
    assert summary["SELECT 1"]["calls"] == 2 and summary["SELECT 1"]["slow"] == 0
    assert summary["SELECT pg_sleep(0.15)"]["slow"] == 1 and summary["SELECT pg_sleep(0.15)"]["max_ms"] >= 150
    assert [r for r in caplog.records if "slow statement" in r.message and "pg_sleep" in r.message]
    assert not [r for r in caplog.records if "SELECT 1" in r.message]


def test_spec_thresholds_reach_the_helpers():
    spec = load_spec_text("version: 1\nmonitoring: {slow_query_ms: 250}\n")
    assert QueryTimings.from_spec(spec).slow_ms == 250
    assert Path  # keeps the import used where pathlib is needed above


def test_bench_smoke_structure(tmp_path):
    """`pgrecon bench` at a tiny scale: the output has every row, figure and ratio (not timings)."""
    import json
    import subprocess
    import sys
    root = Path(__file__).resolve().parents[2]
    run = subprocess.run([sys.executable, "-m", "reconciler", "bench", "--agents", "300", "--links", "900",
                          "--repeat", "3", "--format", "json", "--data-dir", str(tmp_path / "bench")],
                         capture_output=True, text=True, cwd=root, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    data = json.loads(run.stdout)
    assert [r["key"] for r in data["rows"]] == ["active_lookup", "coalition_members", "name_search", "batch_insert",
                                                "concurrent_100"]
    for row in data["rows"]:
        for side in ("before", "after"):
            figure = row[side]
            assert figure["min_ms"] <= figure["median_ms"] <= figure["max_ms"] and figure["runs"] >= 3
        assert row["ratio"] > 0 and row["seed_ratio"]
    assert data["agents"] == 300 and data["server_version"].startswith("18")
    assert "plain_copy_1000" in data["extra"] and "active_lookup_cached" in data["extra"]
    assert [r["key"] for r in data["runtime_rows"]] == ["async_concurrent_100", "session_batch_insert",
                                                        "sqlalchemy_overhead", "single_flight_50"]
    for row in data["runtime_rows"]:
        assert row["before"]["runs"] >= 3 and row["after"]["runs"] >= 3 and row["ratio"] > 0
    assert data["runtime_facts"]["single_flight_queries"] == {"without": 50, "with": 1}
