"""The runtime helpers in asyncio and through SQLAlchemy 2, on PostgreSQL 15 and 18 and through a
real PgBouncer in transaction pooling: the caller's transaction decides, a cancelled COPY leaves
nothing, an exhausted pool says why, a restarted server is survived, single-flight holds."""

from __future__ import annotations

import asyncio
import threading

import psycopg
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from dev.testing import FAST_TEST_SETTINGS
from reconciler.commands.localserver import LocalServer, free_port
from reconciler.resources.document import load_spec_text
from reconciler.runtime import (
    AsyncBatchWriter,
    AsyncPendingBuffer,
    AsyncPreparedStatements,
    AsyncQueryCache,
    BatchWriter,
    PoolExhausted,
    PreparedStatements,
    QueryCache,
    abatch_insert,
    aexecute_with_cache,
    async_pool_from_spec,
    batch_insert,
    pool_from_spec,
)
from reconciler.runtime.engines import async_engine_from_spec, engine_from_spec
from tests.pgbouncer_local import LocalPgbouncer

AGENTS = "CREATE TABLE agents (id int PRIMARY KEY, name text NOT NULL, template text, status text DEFAULT 'idle')"
SPEC = load_spec_text("version: 1\nruntime: {processes: 2, pool_size: 2, max_overflow: 1, pool_timeout: 5s}\n")


def url(dsn: str) -> str:
    parts = dict(p.split("=", 1) for p in dsn.split())
    return f"postgresql://{parts['user']}@{parts['host']}:{parts['port']}/{parts['dbname']}"


def rows(n: int, start: int = 1) -> list[dict]:
    return [{"id": i, "name": f"agent{i}", "template": "explorer"} for i in range(start, start + n)]


def test_async_writer_insert_upsert_update_on_psycopg(db):
    db.execute(AGENTS)

    async def main():
        async with await psycopg.AsyncConnection.connect(db.dsn, autocommit=True) as conn:
            writer = AsyncBatchWriter(conn, "agents")   # columns from the first row's keys
            assert await writer.insert(rows(1000)) == 1000
            assert writer.binary is True and writer.columns == ["id", "name", "template"]

            async def more():
                for i in range(1001, 1101):
                    await asyncio.sleep(0)
                    yield (i, f"agent{i}", "scout")
            assert await writer.insert(more()) == 100
            assert await writer.upsert([(i, f"renamed{i}", "x") for i in range(1050, 1201)], key=["id"],
                                       update=["name"]) == 151
            assert await writer.update([{"id": i, "status": "busy"} for i in range(1, 501)], key=["id"],
                                       columns=["status"]) == 0  # status is not among the writer's columns
    with pytest.raises(ValueError, match="among the writer's columns"):
        asyncio.run(main())
    assert db.value("SELECT count(*) FROM agents") == 1200
    assert db.rows("SELECT name, template FROM agents WHERE id IN (1049, 1050, 1200) ORDER BY id") == [
        ("agent1049", "scout"), ("renamed1050", "scout"), ("renamed1200", "x")]

    async def update():
        async with await psycopg.AsyncConnection.connect(db.dsn) as conn:   # not autocommit: a transaction open
            writer = AsyncBatchWriter(conn, "agents", ["id", "status"])
            assert await writer.update([{"id": i, "status": "busy"} for i in range(1, 501)], key=["id"],
                                       columns=["status"]) == 500
            await conn.rollback()                                   # the caller's rollback wins
            assert await writer.update([(i, "busy") for i in range(1, 301)], key=["id"], columns=["status"]) == 300
            await conn.commit()
    asyncio.run(update())
    assert db.value("SELECT count(*) FROM agents WHERE status = 'busy'") == 300


def test_sync_helpers_join_a_sqlalchemy_session(db):
    db.execute(AGENTS + "; CREATE SEQUENCE loads")
    engine = engine_from_spec(SPEC, url(db.dsn))
    try:
        with Session(engine) as session:
            assert batch_insert(session, "agents", rows(500)) == 500
            session.execute(text("INSERT INTO agents (id, name) VALUES (9999, 'orm')"))
            assert session.execute(text("SELECT count(*) FROM agents")).scalar() == 501  # one transaction
            session.rollback()
        assert db.value("SELECT count(*) FROM agents") == 0
        with Session(engine) as session, session.begin():
            writer = BatchWriter(session, "agents", ["id", "name", "template"])
            writer.insert(rows(500))
            assert writer.upsert(rows(100, 450), key=["id"]) == 100
            assert writer.upsert(rows(10, 600), key=["id"]) == 10    # the staging table is made again
        assert db.value("SELECT count(*) FROM agents") == 559   # 1-500, 501-549, 600-609
        cache = QueryCache(ttl=60)
        statements = PreparedStatements()
        statements.register("by_template", "SELECT count(*) FROM agents WHERE template = :template AND id > :low")
        with engine.connect() as conn:
            query = "SELECT count(*), nextval('loads') FROM agents WHERE template = :t"
            assert cache.execute(conn, query, {"t": "explorer"}) == [(559, 1)]
            assert cache.execute(conn, query, {"t": "explorer"}) == [(559, 1)]   # cached: nextval not run again
            assert statements.execute(conn, "by_template", {"template": "explorer", "low": 500}).fetchone() == (59,)
            conn.rollback()
    finally:
        engine.dispose()


def test_async_helpers_join_an_async_session_commit_and_rollback(db):
    db.execute(AGENTS + "; CREATE SEQUENCE loads")

    async def main():
        engine = async_engine_from_spec(SPEC, url(db.dsn))
        try:
            async with AsyncSession(engine) as session:
                assert await abatch_insert(session, "agents", rows(1000)) == 1000
                result = await session.execute(text("SELECT count(*) FROM agents"))
                assert result.scalar() == 1000            # the session sees its own transaction's rows
                await session.rollback()
            async with AsyncSession(engine) as session, session.begin():
                assert await abatch_insert(session, "agents", rows(300)) == 300
                writer = AsyncBatchWriter(session, "agents", ["id", "name", "template"])
                assert await writer.upsert(rows(50, 290), key=["id"], update=["template"]) == 50
            async with AsyncSession(engine) as session:
                cache = AsyncQueryCache(ttl=60)
                query = "SELECT count(*), nextval('loads') FROM agents WHERE template = :t"
                first = await aexecute_with_cache(session, query, {"t": "explorer"}, key="active_agents",
                                                  cache=cache)
                again = await aexecute_with_cache(session, query, {"t": "explorer"}, key="active_agents",
                                                  cache=cache)
                assert first == again == [(339, 1)]   # 1-300 and 301-339
                statements = AsyncPreparedStatements()
                statements.register("above", "SELECT count(*) FROM agents WHERE id > :low")
                cursor = await statements.execute(session, "above", {"low": 300})
                assert await cursor.fetchone() == (39,)
        finally:
            await engine.dispose()

    asyncio.run(main())
    assert db.value("SELECT count(*) FROM agents") == 339


def test_a_task_cancelled_mid_copy_leaves_no_rows_and_a_clean_pooled_connection(db):
    db.execute(AGENTS)

    async def main():
        pool = await async_pool_from_spec(SPEC, db.dsn)
        try:
            halfway = asyncio.Event()

            async def endless():
                for i in range(1, 1_000_000):
                    if i == 5000:
                        halfway.set()
                        await asyncio.Event().wait()     # stalls mid-COPY until cancelled
                    yield (i, f"a{i}", "explorer")

            async def job():
                async with pool.connection() as conn:
                    await AsyncBatchWriter(conn, "agents", ["id", "name", "template"]).insert(endless())

            task = asyncio.create_task(job())
            await halfway.wait()
            assert db.value("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY%%agents%%'") == 1
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            for _ in range(pool.max_size + 1):    # every connection the pool hands out is clean
                async with pool.connection() as conn:
                    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
                    assert await (await conn.execute("SELECT count(*) FROM agents")).fetchone() == (0,)
        finally:
            await pool.close()

    asyncio.run(main())
    assert db.value("SELECT count(*) FROM agents") == 0


def test_an_exhausted_pool_names_its_size_and_the_wait(db):
    spec = load_spec_text("version: 1\nruntime: {pool_size: 1, max_overflow: 1, pool_timeout: 300ms}\n")
    pool = pool_from_spec(spec, db.dsn)
    try:
        held = [pool.getconn(), pool.getconn()]
        with pytest.raises(PoolExhausted) as failure:
            pool.getconn()
        message = str(failure.value)
        assert "within 0.3 s" in message and "all 2 connections" in message
        assert "pool_size 1 + max_overflow 1" in message
        for conn in held:
            pool.putconn(conn)
    finally:
        pool.close()

    async def main():
        apool = await async_pool_from_spec(spec, db.dsn)
        try:
            async with apool.connection(), apool.connection():
                with pytest.raises(PoolExhausted, match="all 2 connections"):
                    async with apool.connection(timeout=0.1):
                        pass
            async with apool.connection() as conn:          # free again
                assert await (await conn.execute("SELECT 1")).fetchone() == (1,)
        finally:
            await apool.close()

    asyncio.run(main())


def test_async_pool_and_engine_survive_a_server_restart(server, tmp_path):
    own = LocalServer(server.bin_dir, tmp_path / "data", dict(FAST_TEST_SETTINGS))
    own.start()

    async def main():
        pool = await async_pool_from_spec(SPEC, own.dsn())
        engine = async_engine_from_spec(SPEC, url(own.dsn()))
        try:
            async def lookups(n):
                for i in range(n):
                    async with pool.connection() as conn:
                        assert await (await conn.execute("SELECT %s::int", (i,))).fetchone() == (i,)
                    async with AsyncSession(engine) as session:
                        assert (await session.execute(text("SELECT :v"), {"v": i})).scalar() == i

            await lookups(3)
            await asyncio.to_thread(own.restart)      # every open connection dies
            await lookups(6)                           # none is handed out: each is checked and replaced
            stats = pool.get_stats()
            assert stats["connections_lost"] >= 1
        finally:
            await pool.close()
            await engine.dispose()

    try:
        asyncio.run(main())
    finally:
        own.stop("immediate")


def test_single_flight_runs_one_query_for_fifty_concurrent_misses(db):
    db.execute("CREATE SEQUENCE loads")
    query = "SELECT nextval('loads'), pg_sleep(0.05)"

    async def main():
        pool = await async_pool_from_spec(load_spec_text("version: 1\nruntime: {pool_size: 10}\n"), db.dsn)
        cache = AsyncQueryCache(ttl=60)
        try:
            async def lookup():
                async with pool.connection() as conn:
                    return await cache.execute(conn, query, key="hot")

            results = await asyncio.gather(*(lookup() for _ in range(50)))
            assert {tuple(r[0])[:1] for r in results} == {(1,)}
            stats = cache.stats()
            assert stats["misses"] == 1 and stats["hits"] + stats["shared"] == 49
        finally:
            await pool.close()

    asyncio.run(main())
    assert db.value("SELECT last_value FROM loads") == 1     # the server ran the query once

    sync_cache = QueryCache(ttl=60)
    barrier = threading.Barrier(20)
    got = []

    def lookup():
        with psycopg.connect(db.dsn, autocommit=True) as conn:
            barrier.wait()
            got.append(sync_cache.execute(conn, query, key="hot")[0][0])

    threads = [threading.Thread(target=lookup) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == [2] * 20 and db.value("SELECT last_value FROM loads") == 2


def test_async_buffer_cancelled_owner_leaves_no_half_written_batch(db):
    db.execute("CREATE TABLE events (id int PRIMARY KEY, v text)")

    async def main():
        async with await psycopg.AsyncConnection.connect(db.dsn, autocommit=True) as conn:
            writer = AsyncBatchWriter(conn, "events", ["id", "v"])
            buffer = AsyncPendingBuffer(writer.insert, max_rows=2000, max_age_s=3600)
            for i in range(1999):
                await buffer.add((i, "x"))

            async def owner():
                await buffer.add((1999, "x"))   # the 2000th row: a flush starts
            task = asyncio.create_task(owner())
            await asyncio.sleep(0.005)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            written = await (await conn.execute("SELECT count(*) FROM events")).fetchone()
            assert (written[0], len(buffer)) in ((2000, 0), (0, 2000))     # all or nothing, and accounted
            async with AsyncPendingBuffer(writer.insert, max_rows=100, max_age_s=0.05) as timed:
                await timed.add((5000, "y"))
                for _ in range(200):                     # the timer task flushes the lone row
                    if len(timed) == 0:
                        break
                    await asyncio.sleep(0.01)
                assert len(timed) == 0
            await buffer.close()

    asyncio.run(main())
    assert db.rows("SELECT count(*), count(DISTINCT id) FROM events") == [(2001, 2001)]


def test_helpers_and_engine_through_pgbouncer_transaction_pooling(db, tmp_path):
    """PgBouncer 1.18 in transaction pooling: the engine from the spec does not prepare statements
    (psycopg would after 5 executions and fail on another server connection); the helpers COPY
    inside the session's transaction; commit keeps, rollback discards."""
    db.execute(AGENTS)
    port = free_port()
    (tmp_path / "users.txt").write_text('"postgres" ""\n')
    (tmp_path / "pgbouncer.ini").write_text(
        f"[databases]\nappdb = host=127.0.0.1 port={db.server.port} dbname={db.name}\n"
        f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nauth_type = trust\n"
        f"auth_file = {tmp_path / 'users.txt'}\npool_mode = transaction\ndefault_pool_size = 2\n"
        f"unix_socket_dir =\nadmin_users = postgres\n")
    spec = load_spec_text("version: 1\nruntime: {pool_size: 4, max_overflow: 0}\npgbouncer:\n  version: '1.18'\n"
                          "  settings: {pool_mode: transaction, default_pool_size: 2}\n"
                          "  databases: {appdb: {host: 127.0.0.1, dbname: x}}\n")
    with LocalPgbouncer(tmp_path / "pgbouncer.ini", port, "postgres") as bouncer:
        address = f"postgresql://postgres@127.0.0.1:{port}/appdb"

        async def main():
            engine = async_engine_from_spec(spec, address)
            try:
                async def client(n):
                    async with AsyncSession(engine) as session:
                        for i in range(12):   # more than psycopg's prepare threshold, on one client connection
                            value = (await session.execute(text("SELECT count(*) + :i FROM agents"), {"i": i}))
                            assert value.scalar() >= i
                        await session.commit()
                        async with session.begin():
                            await abatch_insert(session, "agents", rows(100, 1 + n * 100))
                        async with session.begin():
                            await abatch_insert(session, "agents", rows(100, 10_000 + n * 100))
                            await session.rollback()
                await asyncio.gather(*(client(n) for n in range(4)))   # 4 clients on 2 server connections
            finally:
                await engine.dispose()

        asyncio.run(main())
        pools = [p for p in bouncer.show("POOLS") if p["database"] == "appdb"]
        assert pools[0]["pool_mode"] == "transaction"
    assert db.rows("SELECT count(*), min(id), max(id) FROM agents") == [(400, 1, 400)]


def test_orm_adds_and_the_copy_land_in_the_same_session_transaction(db):
    db.execute(AGENTS)
    table = Table("agents", MetaData(), Column("id", Integer, primary_key=True), Column("name", String),
                  Column("template", String), Column("status", String))
    engine = create_engine(url(db.dsn).replace("postgresql://", "postgresql+psycopg://"))
    try:
        with Session(engine) as session:
            session.execute(insert(table), [{"id": 0, "name": "orm", "template": "t", "status": "idle"}])
            BatchWriter(session, "agents").insert(rows(10))
            session.commit()
        assert db.value("SELECT count(*) FROM agents") == 11
    finally:
        engine.dispose()


def test_async_statement_timings_through_an_instrumented_pool(db, caplog):
    import logging

    from reconciler.runtime import QueryTimings, instrument
    timings = QueryTimings(slow_ms=100)

    async def configure(conn):
        instrument(conn, timings)

    async def main():
        pool = await async_pool_from_spec(SPEC, db.dsn, configure=configure)
        try:
            async def one(i):
                async with pool.connection() as conn:
                    await conn.execute("SELECT 1")
                    if i == 0:
                        await conn.execute("SELECT pg_sleep(0.15)")
            await asyncio.gather(*(one(i) for i in range(6)))
        finally:
            await pool.close()

    with caplog.at_level(logging.WARNING, logger="pgrecon.queries"):
        asyncio.run(main())
    summary = {row["statement"]: row for row in timings.summary()}
    assert summary["SELECT 1"]["calls"] == 6 and summary["SELECT 1"]["slow"] == 0
    assert summary["SELECT pg_sleep(0.15)"]["slow"] == 1 and summary["SELECT pg_sleep(0.15)"]["max_ms"] >= 150
    assert [r for r in caplog.records if "pg_sleep" in r.message]
