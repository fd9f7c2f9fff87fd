"""A connection pool sized from the spec (psycopg_pool), with health checks and reconnection.

>>> pool = pool_from_spec(spec, dsn)                        # doctest: +SKIP
>>> with pool.connection() as conn:                          # doctest: +SKIP
...     conn.execute("SELECT 1")
>>> pool.get_stats()["requests_num"]                         # doctest: +SKIP

Connections are checked when taken from the pool: one broken by a server restart is replaced,
not handed out. Behind PgBouncer in transaction pooling without prepared-statement support,
psycopg's automatic preparation is turned off.
"""

from __future__ import annotations

from typing import Any

from psycopg_pool import ConnectionPool

from reconciler.facts.pgbouncer import normalize
from reconciler.runtime.prepared import pooling_allows_prepare


def pool_sizes(spec: Any) -> tuple[int, int]:
    """(min, max) from ``pgbouncer.settings`` (min_pool_size, default_pool_size), else (1, 10)."""
    pb = spec.pgbouncer if spec is not None else None
    if pb is None:
        return 1, 10
    high = int(normalize("default_pool_size", pb.settings.get("default_pool_size", "20")))
    low = int(normalize("min_pool_size", pb.settings.get("min_pool_size", "0")))
    return min(max(low, 1), high), high


def pool_from_spec(spec: Any, dsn: str, min_size: int | None = None, max_size: int | None = None,
                   **kwargs: Any) -> ConnectionPool:
    """An open pool for ``dsn`` sized by the spec unless given; extra ``kwargs`` go to the pool."""
    low, high = pool_sizes(spec)
    connect_kwargs = dict(kwargs.pop("kwargs", {}))
    if not pooling_allows_prepare(spec):
        connect_kwargs.setdefault("prepare_threshold", None)
    pool = ConnectionPool(dsn, min_size=min_size or low, max_size=max_size or high, kwargs=connect_kwargs,
                          check=ConnectionPool.check_connection, open=False, name="pgrecon", **kwargs)
    pool.open(wait=True, timeout=30)
    return pool
