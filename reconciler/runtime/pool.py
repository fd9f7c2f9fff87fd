"""Connection pools sized from the spec (psycopg_pool), sync and asyncio, with health checks,
reconnection, and an error that says why a caller got no connection.

>>> pool = pool_from_spec(spec, dsn)                        # doctest: +SKIP
>>> with pool.connection() as conn:                          # doctest: +SKIP
...     conn.execute("SELECT 1")
>>> pool = await async_pool_from_spec(spec, dsn)            # doctest: +SKIP
>>> async with pool.connection() as conn:                    # doctest: +SKIP
...     await conn.execute("SELECT 1")

Sizes come from the spec's ``runtime:`` section (``pool_size`` kept, up to ``max_overflow`` more,
``pool_timeout``, ``pool_recycle``, ``pool_pre_ping``), which must fit PgBouncer or the server
(:func:`~reconciler.resources.pgbouncer.checks.check_runtime`); without one, from ``pgbouncer``'s
``min_pool_size``/``default_pool_size``, else 1 to 10. Connections are checked when taken from
the pool: one broken by a server restart is replaced, not handed out. Behind PgBouncer in
transaction pooling without prepared-statement support, psycopg's automatic preparation is off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolTimeout

from reconciler.facts.pgbouncer import normalize
from reconciler.resources.pgbouncer.checks import check_runtime
from reconciler.runtime.prepared import pooling_allows_prepare


class PoolExhausted(PoolTimeout):
    """No connection came free within the wait: every one the pool may open was in use."""


@dataclass(frozen=True)
class PoolSizing:
    """What a pool built from the spec looks like (psycopg_pool's and SQLAlchemy's terms)."""

    pool_size: int
    max_overflow: int
    timeout_s: float
    recycle_s: float | None
    pre_ping: bool

    @property
    def max_size(self) -> int:
        return self.pool_size + self.max_overflow


def pool_sizing(spec: Any) -> PoolSizing:
    """The pool the spec asks for (its ``runtime:`` section, checked against PgBouncer and the
    server's limits), else one derived from ``pgbouncer`` or 1 to 10."""
    runtime = spec.runtime if spec is not None else None
    if runtime is not None:
        check_runtime(spec)
        return PoolSizing(runtime.pool_size, runtime.max_overflow, runtime.pool_timeout / 1000,
                          runtime.pool_recycle / 1000 if runtime.pool_recycle else None, runtime.pool_pre_ping)
    low, high = pool_sizes(spec)
    return PoolSizing(low, high - low, 30.0, None, True)


def pool_sizes(spec: Any) -> tuple[int, int]:
    """(min, max) from ``pgbouncer.settings`` (min_pool_size, default_pool_size), else (1, 10)."""
    pb = spec.pgbouncer if spec is not None else None
    if pb is None:
        return 1, 10
    high = int(normalize("default_pool_size", pb.settings.get("default_pool_size", "20")))
    low = int(normalize("min_pool_size", pb.settings.get("min_pool_size", "0")))
    return min(max(low, 1), high), high


def _exhausted(pool: ConnectionPool[Any] | AsyncConnectionPool[Any], timeout: float | None) -> PoolExhausted:
    stats = pool.get_stats()
    wait = pool.timeout if timeout is None else timeout
    return PoolExhausted(
        f"pool {pool.name!r} gave no connection within {wait:g} s: all {pool.max_size} connections it may open "
        f"(pool_size {pool.min_size} + max_overflow {pool.max_size - pool.min_size}) are in use, "
        f"{stats.get('requests_waiting', 0)} callers waiting; raise runtime.pool_size or max_overflow (within "
        f"PgBouncer's max_client_conn), or hold connections for less time")


class SpecPool(ConnectionPool[psycopg.Connection[Any]]):
    """A psycopg_pool ``ConnectionPool`` whose timeout is a :class:`PoolExhausted` naming its size."""

    def getconn(self, timeout: float | None = None) -> psycopg.Connection[Any]:
        try:
            return super().getconn(timeout)
        except PoolExhausted:
            raise
        except PoolTimeout:
            raise _exhausted(self, timeout) from None


class AsyncSpecPool(AsyncConnectionPool[psycopg.AsyncConnection[Any]]):
    """:class:`SpecPool` for asyncio."""

    async def getconn(self, timeout: float | None = None) -> psycopg.AsyncConnection[Any]:
        try:
            return await super().getconn(timeout)
        except PoolExhausted:
            raise
        except PoolTimeout:
            raise _exhausted(self, timeout) from None


def _pool_arguments(spec: Any, min_size: int | None, max_size: int | None, kwargs: dict[str, Any]) -> dict[str, Any]:
    sizing = pool_sizing(spec)
    connect_kwargs = dict(kwargs.pop("kwargs", {}))
    if not pooling_allows_prepare(spec):
        connect_kwargs.setdefault("prepare_threshold", None)
    arguments: dict[str, Any] = {"min_size": min_size or sizing.pool_size, "max_size": max_size or sizing.max_size,
                                 "timeout": sizing.timeout_s, "kwargs": connect_kwargs, "open": False,
                                 "name": "pgrecon"}
    if sizing.recycle_s:
        arguments["max_lifetime"] = sizing.recycle_s
    return {**arguments, **kwargs}


def pool_from_spec(spec: Any, dsn: str, min_size: int | None = None, max_size: int | None = None,
                   **kwargs: Any) -> SpecPool:
    """An open pool for ``dsn`` sized by the spec unless given; extra ``kwargs`` go to the pool."""
    arguments = _pool_arguments(spec, min_size, max_size, kwargs)
    pre_ping = pool_sizing(spec).pre_ping
    pool = SpecPool(dsn, check=ConnectionPool.check_connection if pre_ping else None, **arguments)
    pool.open(wait=True, timeout=30)
    return pool


async def async_pool_from_spec(spec: Any, dsn: str, min_size: int | None = None, max_size: int | None = None,
                               **kwargs: Any) -> AsyncSpecPool:
    """:func:`pool_from_spec` for asyncio: an open ``AsyncConnectionPool``."""
    arguments = _pool_arguments(spec, min_size, max_size, kwargs)
    pre_ping = pool_sizing(spec).pre_ping
    pool = AsyncSpecPool(dsn, check=AsyncConnectionPool.check_connection if pre_ping else None, **arguments)
    await pool.open(wait=True, timeout=30)
    return pool
