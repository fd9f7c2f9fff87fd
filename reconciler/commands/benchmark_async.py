"""``pgrecon bench``'s asyncio and SQLAlchemy rows: what the helpers buy where the seed's
application code runs (asyncio, SQLAlchemy sessions), each against the way it is written without
them. Needs ``pgrecon[sqlalchemy]``; without it the rows are left out with a note.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import psycopg

from reconciler.resources.document import Spec
from reconciler.runtime import AsyncBatchWriter, AsyncQueryCache, async_pool_from_spec

MEMBERS = ("SELECT a.id, a.name, ac.role FROM agent_coalition ac JOIN agents a ON a.id = ac.agent_id "
           "WHERE ac.coalition_id = %s ORDER BY ac.contribution_score DESC")
ACTIVE_COUNT = "SELECT count(*) FROM agents WHERE status = :status"
LABELS = {
    "async_concurrent_100": ("Concurrent queries (100), asyncio", "one after another on one connection",
                             "gathered over the async pool"),
    "session_batch_insert": ("Batch insert (1,000 records), AsyncSession", "one ORM add per row, one commit",
                             "abatch_insert(session, …): COPY in the session's transaction"),
    "sqlalchemy_overhead": ("COPY of 1,000 rows: what SQLAlchemy costs", "the helper through an AsyncSession",
                            "the same on a bare psycopg AsyncConnection"),
    "single_flight_50": ("50 concurrent misses on one key", "AsyncQueryCache without single-flight (a load each)",
                         "AsyncQueryCache (single-flight)"),
}


async def _time_ms(make: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await make()
    return (time.perf_counter() - started) * 1000


def _rows(n: int) -> list[dict[str, Any]]:
    return [{"id": uuid.uuid4(), "name": f"bench_async_{i}", "template": "explorer", "status": "idle",
             "beliefs": {"goal": "explore"}, "metrics": {}} for i in range(n)]


def _sqlalchemy_url(dsn: str) -> Any:
    from sqlalchemy.engine import URL
    info = psycopg.conninfo.conninfo_to_dict(dsn)
    return URL.create("postgresql+psycopg", username=str(info.get("user") or "") or None,
                      password=str(info["password"]) if info.get("password") else None,
                      host=str(info.get("host") or "") or None,
                      port=int(str(info["port"])) if info.get("port") else None, database=str(info.get("dbname")))


async def _concurrent(dsn: str, spec: Spec, repeat: int) -> tuple[list[float], list[float]]:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        coalitions = [r[0] for r in await (await conn.execute("SELECT id FROM coalitions")).fetchall()]

        async def one_by_one(work: list[Any]) -> None:
            for coalition in work:
                await (await conn.execute(MEMBERS, (coalition,))).fetchall()

        # read-only lookups: autocommit, as the sequential side (no BEGIN, no ROLLBACK on return)
        pool = await async_pool_from_spec(spec, dsn, min_size=10, max_size=10, kwargs={"autocommit": True})
        try:
            async def lookup(coalition: Any) -> None:
                async with pool.connection() as pooled:
                    await (await pooled.execute(MEMBERS, (coalition,))).fetchall()

            async def gathered(work: list[Any]) -> None:
                await asyncio.gather(*(lookup(c) for c in work))

            base, helper = [], []
            for _ in range(repeat):
                work = [random.choice(coalitions) for _ in range(100)]
                base.append(await _time_ms(partial(one_by_one, work)))
                helper.append(await _time_ms(partial(gathered, work)))
            return base, helper
        finally:
            await pool.close()


def _agent_mapping() -> type:
    from sqlalchemy import JSON, Column, MetaData, String, Table, Uuid
    from sqlalchemy.orm import registry

    table = Table("agents", MetaData(), Column("id", Uuid, primary_key=True), Column("name", String),
                  Column("template", String), Column("status", String), Column("beliefs", JSON),
                  Column("metrics", JSON))

    class Agent:
        def __init__(self, **values: Any):
            self.__dict__.update(values)

    registry().map_imperatively(Agent, table)
    return Agent


async def _session_inserts(dsn: str, repeat: int) -> tuple[list[float], list[float], list[float]]:
    """(ORM adds, the helper in the session, the helper on a bare connection), in ms. The helper's
    two forms alternate which goes first, so that neither gains from the other's warm-up."""
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    agent = _agent_mapping()
    engine = create_async_engine(_sqlalchemy_url(dsn), pool_size=2)
    orm: list[float] = []
    through_session: list[float] = []
    bare: list[float] = []
    try:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            async def adds(rows: list[dict[str, Any]]) -> None:
                async with AsyncSession(engine) as session:
                    for row in rows:
                        session.add(agent(**row))
                    await session.commit()

            async def copied(rows: list[dict[str, Any]]) -> None:
                async with AsyncSession(engine) as session:
                    await AsyncBatchWriter(session, "agents").insert(rows)
                    await session.commit()

            async def copied_bare(rows: list[dict[str, Any]]) -> None:
                await AsyncBatchWriter(conn, "agents").insert(rows)     # its own transaction

            for run in range(repeat):
                orm.append(await _time_ms(partial(adds, _rows(1000))))
                pair = [(through_session, copied), (bare, copied_bare)]
                for samples, make in pair if run % 2 else reversed(pair):
                    samples.append(await _time_ms(partial(make, _rows(1000))))
    finally:
        await engine.dispose()
    return orm, through_session, bare


async def _single_flight(dsn: str, repeat: int) -> tuple[list[float], list[float], int, int]:
    """50 concurrent misses on one key, each on its own connection: with single-flight and with a
    cache that loads for each miss (its lock is taken only around the bookkeeping)."""
    loads = {"shared": 0, "each": 0}
    conns = [await psycopg.AsyncConnection.connect(dsn, autocommit=True) for _ in range(50)]
    try:
        async def misses(cache: AsyncQueryCache | None, counter: str) -> None:
            async def load(conn: psycopg.AsyncConnection[Any]) -> list[Any]:
                loads[counter] += 1
                return await (await conn.execute(ACTIVE_COUNT.replace(":status", "%s"), ("active",))).fetchall()

            if cache is None:
                await asyncio.gather(*(load(c) for c in conns))
            else:
                await asyncio.gather(*(cache.get_or_load("active_agents", partial(load, c)) for c in conns))

        shared, each = [], []
        for _ in range(repeat):
            loads.update(shared=0, each=0)
            shared.append(await _time_ms(lambda: misses(AsyncQueryCache(ttl=300), "shared")))
            each.append(await _time_ms(lambda: misses(None, "each")))
        return each, shared, loads["each"], loads["shared"]
    finally:
        for conn in conns:
            await conn.close()


async def measure(dsn: str, spec: Spec, repeat: int) -> tuple[dict[str, tuple[list[float], list[float]]],
                                                                dict[str, Any]]:
    """Each row's (without, with) samples in ms, and facts to report beside them."""
    out: dict[str, tuple[list[float], list[float]]] = {}
    facts: dict[str, Any] = {}
    out["async_concurrent_100"] = await _concurrent(dsn, spec, repeat)
    each, shared, loads_each, loads_shared = await _single_flight(dsn, repeat)
    out["single_flight_50"] = (each, shared)
    facts["single_flight_queries"] = {"without": loads_each, "with": loads_shared}
    try:
        import sqlalchemy  # noqa: F401  (optional: pgrecon[sqlalchemy])
    except ImportError:
        facts["note"] = "SQLAlchemy is not installed (pip install 'pgrecon[sqlalchemy]'): its rows are left out"
        return out, facts
    orm, through_session, bare = await _session_inserts(dsn, repeat)
    out["session_batch_insert"] = (orm, through_session)
    out["sqlalchemy_overhead"] = (through_session, bare)
    facts["sqlalchemy_cost"] = round(statistics.median(through_session) / statistics.median(bare), 2)
    return out, facts
