"""Batch writes: COPY instead of one INSERT per row, upserts through a staging table, many-row
updates in one statement, and a buffer that flushes by size, by age and on close.

>>> writer = BatchWriter(conn, "agents", ["id", "name", "template", "status"])   # doctest: +SKIP
>>> writer.insert(rows)                                                          # doctest: +SKIP
1000
>>> writer.upsert(rows, key=["id"])                                              # doctest: +SKIP
>>> writer.update([(agent_id, "idle") for agent_id in ids], key=["id"], columns=["status"])  # doctest: +SKIP

Every call runs in one transaction of its own: all rows are written, or none.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import psycopg
from psycopg import pq, sql


def _qualified(table: str | tuple[str, ...]) -> sql.Identifier:
    parts = tuple(table) if isinstance(table, tuple) else tuple(table.split(".", 1))
    return sql.Identifier(*parts)


class BatchWriter:
    """Write many rows of ``table``'s ``columns`` at once."""

    def __init__(self, conn: psycopg.Connection, table: str | tuple[str, str], columns: Sequence[str],
                 binary: bool | None = None):
        self.conn = conn
        self.table = _qualified(table)
        self.columns = list(columns)
        self.binary = False
        self.types = self._column_types()
        self.binary = self._dumpable(pq.Format.BINARY) if binary is None else binary
        # Types to adapt values with: a column psycopg cannot dump goes as text (COPY's text
        # format lets the server parse it); binary COPY is used only when every column can.
        fmt = pq.Format.BINARY if self.binary else pq.Format.TEXT
        self.copy_types = [t if self._has_dumper(t, fmt) else "text" for t in self.types]

    def _has_dumper(self, type_name: str, fmt: Any) -> bool:
        info = self.conn.adapters.types.get(type_name)
        if info is None:
            return False
        try:
            self.conn.adapters.get_dumper_by_oid(info.oid, fmt)
        except psycopg.ProgrammingError:
            return False
        return True

    def _dumpable(self, fmt: Any) -> bool:
        return all(self._has_dumper(t, fmt) for t in self.types)

    def _column_types(self) -> list[str]:
        rows = self.conn.execute(
            "SELECT a.attname, pg_catalog.format_type(a.atttypid, NULL) FROM pg_catalog.pg_attribute a "
            "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped",
            (self.table.as_string(self.conn),)).fetchall()
        types: dict[str, str] = dict(rows)
        missing = [c for c in self.columns if c not in types]
        if missing:
            raise ValueError(f"{self.table.as_string(self.conn)} has no column {', '.join(missing)}")
        return [types[c] for c in self.columns]

    def _copy_into(self, cur: psycopg.Cursor, target: sql.Composable, rows: Iterable[Sequence[Any]]) -> int:
        fields = sql.SQL(", ").join(map(sql.Identifier, self.columns))
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(target, fields)
        if self.binary:
            statement += sql.SQL(" (FORMAT BINARY)")
        count = 0
        with cur.copy(statement) as copy:
            copy.set_types(self.copy_types)  # values adapted by column type (dicts to json, …)
            for row in rows:
                copy.write_row(row)
                count += 1
        return count

    def insert(self, rows: Iterable[Sequence[Any]]) -> int:
        """COPY ``rows`` into the table; returns how many. One transaction."""
        with self.conn.transaction(), self.conn.cursor() as cur:
            return self._copy_into(cur, self.table, rows)

    def upsert(self, rows: Iterable[Sequence[Any]], key: Sequence[str], update: Sequence[str] | None = None) -> int:
        """Insert ``rows``, updating those whose ``key`` exists (``update``: the columns to
        overwrite, default all but the key). Rows go through a temporary staging table by COPY."""
        update = [c for c in (update if update is not None else self.columns) if c not in key]
        stage = sql.Identifier("pgrecon_stage")
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE TEMPORARY TABLE {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP")
                        .format(stage, self.table))
            self._copy_into(cur, stage, rows)
            fields = sql.SQL(", ").join(map(sql.Identifier, self.columns))
            action = (sql.SQL("DO UPDATE SET ") + sql.SQL(", ").join(
                sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in update)) if update \
                else sql.SQL("DO NOTHING")
            cur.execute(sql.SQL("INSERT INTO {t} ({f}) SELECT {f} FROM {s} ON CONFLICT ({k}) ").format(
                t=self.table, f=fields, s=stage, k=sql.SQL(", ").join(map(sql.Identifier, key))) + action)
            return cur.rowcount

    def update(self, rows: Iterable[Sequence[Any]], key: Sequence[str], columns: Sequence[str]) -> int:
        """Set ``columns`` of many rows to different values in one statement: ``rows`` are
        ``(*key values, *column values)``, sent as one array per column and joined by ``unnest``."""
        rows = list(rows)
        names = list(key) + list(columns)
        types = dict(zip(self.columns, self.types, strict=True))
        missing = [c for c in names if c not in types]
        if missing:
            raise ValueError(f"update columns must be among the writer's columns: {', '.join(missing)}")
        arrays = [[row[i] for row in rows] for i in range(len(names))]
        source = sql.SQL("unnest({})").format(sql.SQL(", ").join(
            sql.SQL("{}::{}[]").format(sql.Placeholder(), sql.SQL(types[c])) for c in names))
        statement = sql.SQL("UPDATE {t} AS t SET {sets} FROM {src} AS v({cols}) WHERE {match}").format(
            t=self.table,
            sets=sql.SQL(", ").join(sql.SQL("{0} = v.{0}").format(sql.Identifier(c)) for c in columns),
            src=source,
            cols=sql.SQL(", ").join(map(sql.Identifier, names)),
            match=sql.SQL(" AND ").join(sql.SQL("t.{0} = v.{0}").format(sql.Identifier(c)) for c in key))
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute(statement, arrays)
            return cur.rowcount


class FlushError(Exception):
    """A flush failed; ``rows`` are still buffered (they will be retried) and ``cause`` says why."""

    def __init__(self, rows: list[Any], cause: BaseException):
        super().__init__(f"flush of {len(rows)} rows failed: {cause}")
        self.rows = rows
        self.cause = cause


class PendingBuffer:
    """Accumulates rows and hands them to ``flush`` in batches: when ``max_rows`` are waiting,
    when the oldest has waited ``max_age_s`` (checked on ``add``/``tick``, or by a background
    timer), and on ``close`` (also at interpreter exit).

    ``flush`` must write a batch atomically (as :class:`BatchWriter` does: one transaction). If it
    raises, the batch stays in the buffer, in order, ahead of newer rows, and :class:`FlushError`
    is raised: nothing is lost, and nothing is written twice by pgrecon.
    """

    def __init__(self, flush: Callable[[list[Any]], object], max_rows: int = 1000, max_age_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic, at_exit: bool = True):
        self._flush = flush
        self.max_rows = max_rows
        self.max_age_s = max_age_s
        self.clock = clock
        self._rows: list[Any] = []
        self._oldest: float | None = None
        self._lock = threading.RLock()
        self._timer: threading.Thread | None = None
        self._stop = threading.Event()
        self.flushed_rows = 0
        self.failed_flushes = 0
        if at_exit:
            atexit.register(self.close)

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, row: Any) -> None:
        with self._lock:
            if not self._rows:
                self._oldest = self.clock()
            self._rows.append(row)
            if len(self._rows) >= self.max_rows:
                self.flush()
            else:
                self.tick()

    def tick(self) -> None:
        """Flush if the oldest waiting row is older than ``max_age_s``."""
        with self._lock:
            if self._rows and self._oldest is not None and self.clock() - self._oldest >= self.max_age_s:
                self.flush()

    def flush(self) -> int:
        """Write everything waiting; returns how many rows were written."""
        with self._lock:
            if not self._rows:
                return 0
            batch = list(self._rows)
            try:
                self._flush(batch)
            except Exception as exc:
                self.failed_flushes += 1
                raise FlushError(batch, exc) from exc
            del self._rows[:len(batch)]
            self._oldest = self.clock() if self._rows else None
            self.flushed_rows += len(batch)
            return len(batch)

    def start_timer(self, interval_s: float | None = None) -> None:
        """Check the age in a background thread (errors are kept for the next ``flush``)."""
        interval = interval_s or max(self.max_age_s / 4, 0.01)

        def run() -> None:
            while not self._stop.wait(interval):
                with contextlib.suppress(FlushError):
                    self.tick()

        self._timer = threading.Thread(target=run, name="pgrecon-buffer", daemon=True)
        self._timer.start()

    def close(self) -> None:
        """Stop the timer and flush what is left (raises :class:`FlushError` if that fails)."""
        self._stop.set()
        if self._timer is not None:
            self._timer.join(timeout=5)
        with contextlib.suppress(Exception):  # the interpreter may be shutting down
            atexit.unregister(self.close)
        self.flush()
