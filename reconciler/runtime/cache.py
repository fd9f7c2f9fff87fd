"""A TTL cache for read queries: keyed by statement and parameters (or an explicit key),
bounded in size (least recently used go first), with hit/miss statistics, explicit
invalidation, and safe under threads.

>>> cache = QueryCache(maxsize=100, ttl=300)
>>> rows = cache.execute(conn, "SELECT count(*) FROM agents WHERE status = %s", ("active",))  # doctest: +SKIP
>>> cache.stats()["hits"]                                                                      # doctest: +SKIP
0
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

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


class QueryCache:
    """``maxsize`` entries at most, each for ``ttl`` seconds (``clock`` is injectable)."""

    def __init__(self, maxsize: int = 1024, ttl: float = 300.0, clock: Callable[[], float] = time.monotonic):
        self.maxsize = maxsize
        self.ttl = ttl
        self.clock = clock
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._lock = threading.RLock()
        self._hits = self._misses = self._evictions = self._expired = 0

    @staticmethod
    def key_for(query: str, params: Any = None) -> Hashable:
        return (query, _freeze(params))

    def get_or_load(self, key: Hashable, load: Callable[[], T], ttl: float | None = None) -> T:
        """The cached value for ``key``, or ``load()`` stored for ``ttl`` seconds."""
        now = self.clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.expires > now:
                self._entries.move_to_end(key)
                self._hits += 1
                return entry.value  # type: ignore[return-value]  # stored by load(), a T
            if entry is not None:
                self._expired += 1
                del self._entries[key]
            self._misses += 1
        value = load()  # outside the lock: a slow query does not block other readers
        with self._lock:
            self._entries[key] = _Entry(value, self.clock() + (self.ttl if ttl is None else ttl))
            self._entries.move_to_end(key)
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)
                self._evictions += 1
        return value

    def execute(self, conn: Any, query: str, params: Any = None, key: Hashable | None = None,
                ttl: float | None = None) -> list[Any]:
        """Rows of ``query`` from the cache, or from ``conn`` (then cached)."""
        rows: list[Any] = self.get_or_load(key if key is not None else self.key_for(query, params),
                                           lambda: conn.execute(query, params).fetchall(), ttl)
        return rows

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
            lookups = self._hits + self._misses
            return {"hits": self._hits, "misses": self._misses, "evictions": self._evictions,
                    "expired": self._expired, "size": len(self._entries),
                    "hit_rate": round(100 * self._hits / lookups, 2) if lookups else None}
