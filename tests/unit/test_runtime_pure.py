"""The runtime helpers' logic without a server: ``:name`` parameters, pool sizing from the spec
and its check against PgBouncer and the server, single-flight in both caches, the buffers'
bookkeeping."""

from __future__ import annotations

import asyncio
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.base.errors import SpecError
from reconciler.resources.document import load_spec_text
from reconciler.runtime import AsyncPendingBuffer, AsyncQueryCache, FlushError, QueryCache, pool_sizing
from reconciler.runtime.engines import engine_arguments, psycopg_url
from reconciler.runtime.params import statement


def test_named_parameters_are_converted_where_the_scanner_sees_them():
    text = ("SELECT a::int, ':x in a literal', \"col:x\", x[1:n], 100 % 7, c FROM t -- :x in a comment\n"
            "WHERE t.x = :x AND t.y = :y")
    out = statement(text, {"x": 1, "y": 2})
    assert out == ("SELECT a::int, ':x in a literal', \"col:x\", x[1:n], 100 %% 7, c FROM t -- :x in a comment\n"
                   "WHERE t.x = %(x)s AND t.y = %(y)s")
    assert statement("SELECT x[1:n] FROM t", {"n": 3}) == "SELECT x[1:n] FROM t"  # a slice, as text() reads it
    assert statement("SELECT x[1: :n] FROM t", {"n": 3}) == "SELECT x[1: %(n)s] FROM t"
    assert statement("SELECT 100 % 7 WHERE :a", {"b": 1}) == "SELECT 100 % 7 WHERE :a"  # nothing to convert
    assert statement("SELECT %s", (1,)) == "SELECT %s"
    assert statement("SELECT :template", {"template": "explorer"}) == "SELECT %(template)s"  # a keyword as a name


def test_a_sqlalchemy_text_clause_is_taken_as_its_text():
    from sqlalchemy import text
    assert statement(text("SELECT * FROM agents WHERE id = :id"), {"id": 1}) == \
        "SELECT * FROM agents WHERE id = %(id)s"


RUNTIME = "runtime: {processes: %d, pool_size: %d, max_overflow: %d, pool_timeout: 2s, pool_recycle: 30min}\n"


def test_pool_sizing_follows_the_runtime_section():
    spec = load_spec_text("version: 1\n" + RUNTIME % (4, 8, 2))
    sizing = pool_sizing(spec)
    assert (sizing.pool_size, sizing.max_size, sizing.timeout_s, sizing.recycle_s, sizing.pre_ping) == \
        (8, 10, 2.0, 1800.0, True)
    arguments = engine_arguments(spec)
    assert arguments == {"pool_size": 8, "max_overflow": 2, "pool_timeout": 2.0, "pool_pre_ping": True,
                         "pool_recycle": 1800.0}
    assert str(psycopg_url("postgres://app@h:6432/db")) == "postgresql+psycopg://app@h:6432/db"
    with pytest.raises(ValueError, match="psycopg driver"):
        psycopg_url("postgresql+asyncpg://app@h/db")


def test_pools_that_could_exceed_pgbouncer_are_an_error_with_the_numbers():
    text = ("version: 1\n" + RUNTIME % (12, 8, 2) +
            "pgbouncer:\n  settings: {max_client_conn: 100, default_pool_size: 10}\n"
            "  databases: {app: {host: 127.0.0.1, dbname: app}}\n")
    spec = load_spec_text(text)
    with pytest.raises(SpecError) as failure:
        pool_sizing(spec)
    message = str(failure.value)
    assert "schema.yaml:2: runtime" in message
    assert "may open 120 connections (runtime.processes 12 x (pool_size 8 + max_overflow 2))" in message
    assert "PgBouncer accepts 100 clients (pgbouncer max_client_conn)" in message
    assert pool_sizing(load_spec_text(text.replace("processes: 12", "processes: 10"))).max_size == 10


def test_pools_without_pgbouncer_must_fit_the_servers_connections():
    spec = load_spec_text("version: 1\n" + RUNTIME % (10, 10, 5) +
                          "postgres:\n  major: 15\n  settings: {max_connections: 120}\n")
    with pytest.raises(SpecError) as failure:
        engine_arguments(spec)
    message = str(failure.value)
    assert "may open 150 connections" in message and "the server allows 117 (max_connections 120" in message
    assert "max_connections from the spec" in message


def test_prepared_statements_are_off_in_the_engine_behind_an_old_transaction_pooler():
    spec = load_spec_text("version: 1\nruntime: {}\npgbouncer:\n  version: '1.18'\n"
                          "  settings: {pool_mode: transaction}\n  databases: {app: {host: h, dbname: app}}\n")
    assert engine_arguments(spec)["connect_args"] == {"prepare_threshold": None}
    newer = load_spec_text("version: 1\nruntime: {}\npgbouncer:\n  version: '1.22'\n"
                           "  settings: {pool_mode: transaction, max_prepared_statements: 200}\n"
                           "  databases: {app: {host: h, dbname: app}}\n")
    assert "connect_args" not in engine_arguments(newer)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 4), min_size=1, max_size=6), min_size=2, max_size=12))
def test_async_single_flight_loads_each_key_once_however_tasks_interleave(plans):
    """Tasks ask for keys in any order, each load yields to the loop several times: every key is
    loaded once, and every caller gets that load's value."""
    async def main():
        cache = AsyncQueryCache(ttl=3600)
        loads: dict[int, int] = {}

        async def load(key):
            loads[key] = loads.get(key, 0) + 1
            for _ in range(key + 1):
                await asyncio.sleep(0)
            return ("value", key)

        async def task(keys):
            return [await cache.get_or_load(k, lambda k=k: load(k)) for k in keys]

        results = await asyncio.gather(*(task(keys) for keys in plans))
        for keys, got in zip(plans, results, strict=True):
            assert got == [("value", k) for k in keys]
        assert loads == dict.fromkeys({k for keys in plans for k in keys}, 1)
        stats = cache.stats()
        assert stats["misses"] == len(loads) and stats["hits"] + stats["shared"] + stats["misses"] == \
            sum(map(len, plans))

    asyncio.run(main())


def test_async_single_flight_shares_an_error_and_survives_a_cancelled_leader():
    async def main():
        cache = AsyncQueryCache(ttl=3600)
        started = asyncio.Event()
        calls = []

        async def failing():
            calls.append("fail")
            started.set()
            await asyncio.sleep(0.01)
            raise RuntimeError("the query failed")

        leader = asyncio.create_task(cache.get_or_load("k", failing))
        await started.wait()
        followers = [asyncio.create_task(cache.get_or_load("k", failing)) for _ in range(5)]
        results = await asyncio.gather(leader, *followers, return_exceptions=True)
        assert calls == ["fail"] and all(isinstance(r, RuntimeError) for r in results)

        gate = asyncio.Event()

        async def slow():
            calls.append("slow")
            await gate.wait()
            return 42

        leader = asyncio.create_task(cache.get_or_load("k", slow))
        await asyncio.sleep(0)
        waiting = [asyncio.create_task(cache.get_or_load("k", slow)) for _ in range(3)]
        await asyncio.sleep(0)
        leader.cancel()  # the leader goes; one waiting caller loads instead
        await asyncio.sleep(0)
        gate.set()
        assert await asyncio.gather(*waiting) == [42, 42, 42]
        assert calls == ["fail", "slow", "slow"]
        with pytest.raises(asyncio.CancelledError):
            await leader

    asyncio.run(main())


def test_sync_single_flight_under_threads():
    cache = QueryCache(ttl=3600)
    barrier = threading.Barrier(20)
    release = threading.Event()
    loads = []

    def load():
        loads.append(1)
        release.wait(5)
        return "rows"

    results = []

    def caller():
        barrier.wait()
        results.append(cache.get_or_load("key", load))

    threads = [threading.Thread(target=caller) for _ in range(20)]
    for t in threads:
        t.start()
    # every thread is past the barrier; whichever came first holds the only load
    while len(loads) == 0:
        release.wait(0.001)
    release.set()
    for t in threads:
        t.join()
    assert loads == [1] and results == ["rows"] * 20
    stats = cache.stats()
    assert stats["misses"] == 1 and stats["hits"] + stats["shared"] == 19


def test_async_buffer_keeps_a_failed_batch_and_flushes_on_exit():
    async def main():
        written: list[list[int]] = []
        fail = [True]

        async def flush(rows):
            await asyncio.sleep(0)
            if fail[0]:
                raise ConnectionError("server gone")
            written.append(list(rows))

        buffer = AsyncPendingBuffer(flush, max_rows=3, max_age_s=3600)
        await buffer.add(1)
        await buffer.add(2)
        with pytest.raises(FlushError) as failure:
            await buffer.add(3)
        assert failure.value.rows == [1, 2, 3] and len(buffer) == 3
        fail[0] = False
        async with buffer:
            await buffer.add(4)   # full again: 1..4 written together, in order
            await buffer.add(5)
        assert written == [[1, 2, 3, 4], [5]] and buffer.flushed_rows == 5 and buffer.failed_flushes == 1

    asyncio.run(main())


def test_render_refuses_pools_larger_than_pgbouncer_accepts(tmp_path):
    from typer.testing import CliRunner

    from reconciler.ui.cli import app
    from tests.pgtest import ROOT
    text = (ROOT / "schema.yaml").read_text().replace("processes: 8 ", "processes: 24")
    spec = tmp_path / "schema.yaml"
    spec.write_text(text)
    result = CliRunner().invoke(app, ["render", "-f", str(spec), "--out-dir", str(tmp_path / "out")])
    line = next(n for n, row in enumerate(text.splitlines(), 1) if row.startswith("runtime:"))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"schema.yaml:{line}: runtime: the application's pools may open 1200 connections" in result.stderr
    assert not (tmp_path / "out").exists()
