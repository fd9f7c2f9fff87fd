"""A TTL cache for read queries: keyed by statement and parameters (or an explicit key), bounded
in size (least recently used go first), with hit/miss statistics and explicit invalidation; sync
(safe under threads) and asyncio.

Single-flight: concurrent misses for one key run the query once; the others wait for it and share
its rows (``stats()["shared"]`` counts them). If that query fails, they get its error; if its
caller is interrupted (cancelled), one of the waiting callers runs the query instead.

>>> cache = QueryCache(maxsize=100, ttl=300)
>>> rows = cache.execute(conn, "SELECT count(*) FROM agents WHERE status = :s", {"s": "active"})  # doctest: +SKIP
>>> rows = await AsyncQueryCache().execute(session, query, key="active_agents", ttl=300)          # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from reconciler.runtime.handles import aconnection_of, connection_of
from reconciler.runtime.params import statement

T = TypeVar("T")


def _freeze(value: Any) -> Hashable:
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    frozen: Hashable = value
    return frozen


@dataclass
class _Entry:
    value: object
    expires: float


class _Interrupted(Exception):
    """The caller running a shared load was interrupted: a waiting caller loads instead."""


@dataclass
class _Flight:
    """One load in progress in one thread, for the threads waiting on it."""

    done: threading.Event = field(default_factory=threading.Event)
    value: object = None
    error: BaseException | None = None


class _CacheBook:
    """The bookkeeping both caches share (no I/O): entries with their expiry, LRU order, counters,
    and the loads in flight. Every method is short and holds the lock only for the bookkeeping."""

    def __init__(self, maxsize: int = 1024, ttl: float = 300.0, clock: Callable[[], float] = time.monotonic):
        self.maxsize = maxsize
        self.ttl = ttl
        self.clock = clock
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._lock = threading.RLock()
        self._hits = self._misses = self._evictions = self._expired = self._shared = 0

    @staticmethod
    def key_for(query: Any, params: Any = None) -> Hashable:
        text = getattr(query, "text", query)
        return (text if isinstance(text, str) else repr(text), _freeze(params))

    def _cached(self, key: Hashable) -> tuple[bool, Any]:
        """(True, value) for a live entry (a hit); (False, None) otherwise. Call with the lock."""
        entry = self._entries.get(key)
        if entry is not None and entry.expires > self.clock():
            self._entries.move_to_end(key)
            self._hits += 1
            return True, entry.value
        if entry is not None:
            self._expired += 1
            del self._entries[key]
        return False, None

    def _store(self, key: Hashable, value: object, ttl: float | None) -> None:
        with self._lock:
            self._entries[key] = _Entry(value, self.clock() + (self.ttl if ttl is None else ttl))
            self._entries.move_to_end(key)
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)
                self._evictions += 1

    def invalidate(self, key: Hashable | None = None, query: str | None = None) -> int:
        """Drop one key, every entry of one ``query`` (whatever its parameters), or everything."""
        with self._lock:
            if key is None and query is None:
                count = len(self._entries)
                self._entries.clear()
                return count
            doomed = [k for k in self._entries if k == key or (query is not None and isinstance(k, tuple)
                                                               and k and k[0] == query)]
            for k in doomed:
                del self._entries[k]
            return len(doomed)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            lookups = self._hits + self._misses + self._shared
            return {"hits": self._hits, "misses": self._misses, "shared": self._shared,
                    "evictions": self._evictions, "expired": self._expired, "size": len(self._entries),
                    "hit_rate": round(100 * (self._hits + self._shared) / lookups, 2) if lookups else None}


class QueryCache(_CacheBook):
    """``maxsize`` entries at most, each for ``ttl`` seconds (``clock`` is injectable); safe
    under threads."""

    def __init__(self, maxsize: int = 1024, ttl: float = 300.0, clock: Callable[[], float] = time.monotonic):
        super().__init__(maxsize, ttl, clock)
        self._flights: dict[Hashable, _Flight] = {}

    def get_or_load(self, key: Hashable, load: Callable[[], T], ttl: float | None = None) -> T:
        """The cached value for ``key``, or ``load()`` (run once for concurrent callers) stored
        for ``ttl`` seconds."""
        while True:
            with self._lock:
                hit, value = self._cached(key)
                if hit:
                    return value  # type: ignore[no-any-return]  # stored by load(), a T
                flight = self._flights.get(key)
                leader = flight is None
                if flight is None:
                    flight = self._flights[key] = _Flight()
                    self._misses += 1
            if leader:
                return self._lead(key, flight, load, ttl)
            flight.done.wait()
            if isinstance(flight.error, _Interrupted):
                continue
            if flight.error is not None:
                raise flight.error
            with self._lock:
                self._shared += 1
            return flight.value  # type: ignore[return-value]  # the leader's load(), a T

    def _lead(self, key: Hashable, flight: _Flight, load: Callable[[], T], ttl: float | None) -> T:
        try:
            value = load()  # outside the lock: a slow query does not block other keys
        except Exception as exc:
            flight.error = exc
            raise
        except BaseException:
            flight.error = _Interrupted()
            raise
        else:
            flight.value = value
            self._store(key, value, ttl)
            return value
        finally:
            with self._lock:
                self._flights.pop(key, None)
            flight.done.set()

    def execute(self, conn: Any, query: Any, params: Any = None, key: Hashable | None = None,
                ttl: float | None = None) -> list[Any]:
        """Rows of ``query`` from the cache, or from ``conn`` (a psycopg connection, or a
        SQLAlchemy ``Connection`` or ``Session``), then cached. ``query`` may use ``:name``
        parameters."""
        def load() -> list[Any]:
            driver, _ = connection_of(conn)
            return driver.execute(statement(query, params), params).fetchall()

        rows: list[Any] = self.get_or_load(key if key is not None else self.key_for(query, params), load, ttl)
        return rows


class AsyncQueryCache(_CacheBook):
    """:class:`QueryCache` for asyncio: ``load`` is a coroutine function; concurrent misses in
    one event loop await one load."""

    def __init__(self, maxsize: int = 1024, ttl: float = 300.0, clock: Callable[[], float] = time.monotonic):
        super().__init__(maxsize, ttl, clock)
        self._flights: dict[Hashable, asyncio.Future[Any]] = {}

    async def get_or_load(self, key: Hashable, load: Callable[[], Awaitable[T]], ttl: float | None = None) -> T:
        """The cached value for ``key``, or ``await load()`` (awaited once for concurrent callers)
        stored for ``ttl`` seconds."""
        while True:
            with self._lock:
                hit, value = self._cached(key)
                if hit:
                    return value  # type: ignore[no-any-return]  # stored by load(), a T
                flight = self._flights.get(key)
                if flight is None:
                    flight = self._flights[key] = asyncio.get_running_loop().create_future()
                    self._misses += 1
                    break
            try:
                shared = await asyncio.shield(flight)
            except _Interrupted:
                continue
            with self._lock:
                self._shared += 1
            return shared  # type: ignore[no-any-return]  # the leader's load(), a T
        try:
            value = await load()
        except Exception as exc:
            flight.set_exception(exc)
            flight.exception()  # retrieved here: no "never retrieved" warning when nobody waits
            raise
        except BaseException:
            flight.set_exception(_Interrupted())
            flight.exception()
            raise
        else:
            self._store(key, value, ttl)
            flight.set_result(value)
            return value
        finally:
            with self._lock:
                self._flights.pop(key, None)

    async def execute(self, conn: Any, query: Any, params: Any = None, key: Hashable | None = None,
                      ttl: float | None = None) -> list[Any]:
        """Rows of ``query`` from the cache, or from ``conn`` (a psycopg ``AsyncConnection``, or a
        SQLAlchemy ``AsyncConnection`` or ``AsyncSession``), then cached."""
        async def load() -> list[Any]:
            driver, _ = await aconnection_of(conn)
            cursor = await driver.execute(statement(query, params), params)
            return await cursor.fetchall()

        rows: list[Any] = await self.get_or_load(key if key is not None else self.key_for(query, params), load, ttl)
        return rows


_default_cache = QueryCache()
_default_async_cache: AsyncQueryCache | None = None


def execute_with_cache(conn: Any, query: Any, params: Any = None, key: Hashable | None = None,
                       ttl: float | None = None, cache: QueryCache | None = None) -> list[Any]:
    """The seed's ``execute_with_cache``: ``query``'s rows through ``cache`` (default: one per
    process)."""
    return (cache or _default_cache).execute(conn, query, params, key=key, ttl=ttl)


async def aexecute_with_cache(conn: Any, query: Any, params: Any = None, key: Hashable | None = None,
                              ttl: float | None = None, cache: AsyncQueryCache | None = None) -> list[Any]:
    """The seed's ``await execute_with_cache(session, query, key=…, ttl=300)`` (default cache:
    one per process)."""
    global _default_async_cache
    if cache is None:
        if _default_async_cache is None:
            _default_async_cache = AsyncQueryCache()
        cache = _default_async_cache
    return await cache.execute(conn, query, params, key=key, ttl=ttl)
