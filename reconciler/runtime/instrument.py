"""Per-statement timings, and a log line for every statement slower than a threshold.

>>> timings = QueryTimings(slow_ms=100)
>>> instrument(conn, timings)                       # doctest: +SKIP
>>> conn.execute("SELECT pg_sleep(0.2)")            # doctest: +SKIP  (logged as slow)
>>> timings.summary()[0]["calls"]                   # doctest: +SKIP
1
>>> instrument(aconn, timings)                      # doctest: +SKIP  (an AsyncConnection: the same)
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg

logger = logging.getLogger("pgrecon.queries")
C = TypeVar("C", psycopg.Connection[Any], psycopg.AsyncConnection[Any])


@dataclass
class StatementTiming:
    calls: int = 0
    total_ms: float = 0.0
    max_ms: float = 0.0
    slow: int = 0


class QueryTimings:
    """Timings by statement text; statements slower than ``slow_ms`` are logged (WARNING)."""

    def __init__(self, slow_ms: float = 100.0):
        self.slow_ms = slow_ms
        self._by_statement: dict[str, StatementTiming] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_spec(cls, spec: Any) -> QueryTimings:
        return cls(spec.monitoring.slow_query_ms if spec is not None else 100.0)

    def record(self, statement: str, elapsed_ms: float) -> None:
        with self._lock:
            entry = self._by_statement.setdefault(statement, StatementTiming())
            entry.calls += 1
            entry.total_ms += elapsed_ms
            entry.max_ms = max(entry.max_ms, elapsed_ms)
            if elapsed_ms >= self.slow_ms:
                entry.slow += 1
        if elapsed_ms >= self.slow_ms:
            logger.warning("slow statement (%.1f ms >= %.0f ms): %s", elapsed_ms, self.slow_ms, statement[:500])

    def summary(self) -> list[dict[str, Any]]:
        """Statements by total time: calls, total, mean and max milliseconds, slow count."""
        with self._lock:
            rows = [{"statement": s, "calls": t.calls, "total_ms": round(t.total_ms, 3),
                     "mean_ms": round(t.total_ms / t.calls, 3), "max_ms": round(t.max_ms, 3), "slow": t.slow}
                    for s, t in self._by_statement.items()]
        return sorted(rows, key=lambda r: -r["total_ms"])


def _text(query: Any, conn: Any) -> str:
    return query if isinstance(query, str) else query.as_string(conn)


def instrument(conn: C, timings: QueryTimings) -> C:
    """Make every ``execute`` on ``conn`` (a psycopg ``Connection`` or ``AsyncConnection``)
    record its time into ``timings``. For a pool: ``configure=lambda c: instrument(c, timings)``
    (an ``async def`` for an async pool)."""
    base: Any = conn.cursor_factory
    if isinstance(conn, psycopg.AsyncConnection):
        class TimedAsyncCursor(base):  # type: ignore[misc]  # the connection's own cursor class
            async def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return await super().execute(query, params, **kwargs)
                finally:
                    timings.record(_text(query, self.connection), (time.perf_counter() - started) * 1000)

        conn.cursor_factory = TimedAsyncCursor
        return conn

    class TimedCursor(base):  # type: ignore[misc]  # the connection's own cursor class, whatever it is
        def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return super().execute(query, params, **kwargs)
            finally:
                timings.record(_text(query, self.connection), (time.perf_counter() - started) * 1000)

    conn.cursor_factory = TimedCursor
    return conn
