"""Watch a running statement from a second connection: build progress and blocking sessions.

While ``apply`` runs a statement, a :class:`StatementMonitor` polls
``pg_stat_progress_create_index`` (for index builds) and ``pg_blocking_pids`` for the apply's
backend, so long builds show progress and a lock timeout can name the session that blocked it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row

_PROGRESS_SQL = """
SELECT phase, blocks_total, blocks_done, tuples_total, tuples_done, partitions_total, partitions_done,
       lockers_total, lockers_done
FROM pg_catalog.pg_stat_progress_create_index WHERE pid = %(pid)s
"""

_BLOCKERS_SQL = """
SELECT a.pid, a.usename, a.application_name, a.client_addr::text AS client_addr, a.state,
       left(a.query, 120) AS query
FROM pg_catalog.pg_stat_activity a
WHERE a.pid = ANY(pg_catalog.pg_blocking_pids(%(pid)s))
ORDER BY a.pid
"""


@dataclass
class BuildProgress:
    phase: str
    blocks_total: int
    blocks_done: int
    tuples_total: int
    tuples_done: int
    partitions_total: int
    partitions_done: int
    lockers_total: int = 0
    lockers_done: int = 0

    @property
    def fraction(self) -> float | None:
        """Share of the current phase done, when the server reports a total."""
        if self.blocks_total:
            return min(1.0, self.blocks_done / self.blocks_total)
        if self.tuples_total:
            return min(1.0, self.tuples_done / self.tuples_total)
        return None


class StatementMonitor:
    """Polls progress and blockers of backend ``pid`` every ``interval`` seconds in a thread.

    >>> with StatementMonitor(dsn, pid, on_progress=print) as monitor:   # doctest: +SKIP
    ...     conn.execute(statement)
    >>> monitor.blockers                                                  # doctest: +SKIP
    """

    def __init__(self, conn: psycopg.Connection, pid: int, watch_progress: bool, on_progress: Any = None,
                 interval: float = 0.25, first_after: float = 0.05):
        self.conn = conn
        self.pid = pid
        self.watch_progress = watch_progress
        self.on_progress = on_progress
        self.interval = interval
        self.first_after = first_after
        self.blockers: list[dict[str, Any]] = []
        self.progress: BuildProgress | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pgrecon-monitor", daemon=True)

    def __enter__(self) -> StatementMonitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        delay = self.first_after
        while not self._stop.wait(delay):
            delay = self.interval
            try:
                self.poll()
            except psycopg.Error:
                return  # the monitor is best effort; the statement's own result decides

    def poll(self) -> None:
        """One look at the backend: who blocks it, and how far its build is."""
        with self.conn.cursor(row_factory=dict_row) as cur:
            cur.execute(_BLOCKERS_SQL, {"pid": self.pid})
            blockers = cur.fetchall()
            if blockers:
                self.blockers = blockers
            if self.watch_progress:
                cur.execute(_PROGRESS_SQL, {"pid": self.pid})
                row = cur.fetchone()
                if row:
                    values: dict[str, Any] = {k: (v or 0) if k != "phase" else v for k, v in row.items()}
                    self.progress = BuildProgress(**values)
                    if self.on_progress:
                        self.on_progress(self.progress)
