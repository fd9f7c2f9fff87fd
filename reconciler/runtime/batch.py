"""Batch writes: COPY instead of one INSERT per row, upserts through a staging table, many-row
updates in one statement — sync and asyncio, on psycopg or through a SQLAlchemy session.

>>> writer = BatchWriter(conn, "agents", ["id", "name", "template", "status"])   # doctest: +SKIP
>>> writer.insert(rows)                                                          # doctest: +SKIP
1000
>>> writer.upsert(rows, key=["id"])                                              # doctest: +SKIP
>>> writer.update([(agent_id, "idle") for agent_id in ids], key=["id"], columns=["status"])  # doctest: +SKIP
>>> await AsyncBatchWriter(session, "agents").insert([{"id": 1, "name": "a1"}])  # doctest: +SKIP

Rows are sequences in ``columns`` order, or dicts keyed by column (``columns`` may then be left
out: the first row's keys are used). Every call is all-or-nothing: on a psycopg connection it runs
in a transaction of its own (a savepoint inside one already open); on a SQLAlchemy ``Session`` or
``Connection`` it joins the caller's transaction, which the caller commits or rolls back.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Iterable, Mapping, Sequence
from typing import Any

import psycopg
from psycopg import sql

from reconciler.runtime.handles import aconnection_of, connection_of
from reconciler.runtime.steps import Copy, Query, Result, Steps, aatomic, arun, atomic, dumpable, run

STAGE = sql.Identifier("pgrecon_stage")


def _qualified(table: str | tuple[str, ...]) -> sql.Identifier:
    parts = tuple(table) if isinstance(table, tuple) else tuple(table.split(".", 1))
    return sql.Identifier(*parts)


class _BatchCore:
    """Everything a batch writer decides, with no I/O: the column types (read once), the COPY
    format, each call's statements. The sync and asyncio writers only run these steps."""

    def __init__(self, table: str | tuple[str, str], columns: Sequence[str] | None, binary: bool | None):
        self.table = _qualified(table)
        self.columns: list[str] = list(columns) if columns is not None else []
        self.types: list[str] = []
        self.binary = False
        self.copy_types: list[str] = []
        self._binary_choice = binary

    @property
    def ready(self) -> bool:
        return bool(self.types)

    def _columns_from(self, rows: Iterable[Any] | AsyncIterable[Any]) -> Iterable[Any] | AsyncIterable[Any]:
        if self.columns:
            return rows
        if not isinstance(rows, Sequence) or not rows or not isinstance(rows[0], Mapping):
            raise ValueError("columns must be given unless the rows are a list of dicts")
        self.columns = [str(k) for k in rows[0]]
        return rows

    def describe(self, conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> Steps[None]:
        """Read the columns' types, and choose binary COPY when every column can go binary (a
        column psycopg cannot dump in the chosen format goes as text for the server to parse)."""
        result: Result = yield Query(
            "SELECT a.attname, pg_catalog.format_type(a.atttypid, NULL) FROM pg_catalog.pg_attribute a "
            "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped",
            (self.table.as_string(None),))
        types: dict[str, str] = dict(result.rows or [])
        missing = [c for c in self.columns if c not in types]
        if missing:
            raise ValueError(f"{self.table.as_string(None)} has no column {', '.join(missing)}")
        self.types = [types[c] for c in self.columns]
        binary = self._binary_choice
        self.binary = all(dumpable(conn, t, True) for t in self.types) if binary is None else binary
        self.copy_types = [t if dumpable(conn, t, self.binary) else "text" for t in self.types]

    def _row(self, row: Any) -> Sequence[Any]:
        if isinstance(row, tuple):
            return row
        if isinstance(row, Mapping):
            try:
                return tuple(row[c] for c in self.columns)
            except KeyError as exc:
                raise ValueError(f"a row has no value for column {exc.args[0]!r} of {self.table.as_string(None)}") \
                    from None
        return tuple(row)

    def _copy(self, target: sql.Identifier, rows: Iterable[Any] | AsyncIterable[Any]) -> Copy:
        fields = sql.SQL(", ").join(map(sql.Identifier, self.columns))
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(target, fields)
        if self.binary:
            statement += sql.SQL(" (FORMAT BINARY)")
        return Copy(statement, self.copy_types, rows, self._row)

    def insert_steps(self, rows: Iterable[Any] | AsyncIterable[Any]) -> Steps[int]:
        count: int = yield self._copy(self.table, rows)
        return count

    def upsert_steps(self, rows: Iterable[Any] | AsyncIterable[Any], key: Sequence[str],
                     update: Sequence[str] | None) -> Steps[int]:
        columns = [c for c in (update if update is not None else self.columns) if c not in key]
        yield Query(sql.SQL("CREATE TEMPORARY TABLE {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP")
                    .format(STAGE, self.table))
        yield self._copy(STAGE, rows)
        fields = sql.SQL(", ").join(map(sql.Identifier, self.columns))
        action = (sql.SQL("DO UPDATE SET ") + sql.SQL(", ").join(
            sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in columns)) if columns \
            else sql.SQL("DO NOTHING")
        result: Result = yield Query(sql.SQL("INSERT INTO {t} ({f}) SELECT {f} FROM {s} ON CONFLICT ({k}) ").format(
            t=self.table, f=fields, s=STAGE, k=sql.SQL(", ").join(map(sql.Identifier, key))) + action)
        # the staging table goes with the transaction; dropped now too, for a caller's transaction
        # that calls upsert twice
        yield Query(sql.SQL("DROP TABLE {}").format(STAGE))
        return result.rowcount

    def update_steps(self, rows: Iterable[Any], key: Sequence[str], columns: Sequence[str]) -> Steps[int]:
        """``rows`` are ``(*key values, *column values)`` (or dicts), sent as one array per column
        and joined by ``unnest``."""
        names = list(key) + list(columns)
        types = dict(zip(self.columns, self.types, strict=True))
        missing = [c for c in names if c not in types]
        if missing:
            raise ValueError(f"update columns must be among the writer's columns: {', '.join(missing)}")
        values = [tuple(r[c] for c in names) if isinstance(r, Mapping) else tuple(r) for r in rows]
        arrays = [[row[i] for row in values] for i in range(len(names))]
        source = sql.SQL("unnest({})").format(sql.SQL(", ").join(
            sql.SQL("{}::{}[]").format(sql.Placeholder(), sql.SQL(types[c])) for c in names))
        statement = sql.SQL("UPDATE {t} AS t SET {sets} FROM {src} AS v({cols}) WHERE {match}").format(
            t=self.table,
            sets=sql.SQL(", ").join(sql.SQL("{0} = v.{0}").format(sql.Identifier(c)) for c in columns),
            src=source,
            cols=sql.SQL(", ").join(map(sql.Identifier, names)),
            match=sql.SQL(" AND ").join(sql.SQL("t.{0} = v.{0}").format(sql.Identifier(c)) for c in key))
        result: Result = yield Query(statement, arrays)
        return result.rowcount


class BatchWriter(_BatchCore):
    """Write many rows of ``table``'s ``columns`` at once, on ``conn`` (a psycopg connection, or a
    SQLAlchemy ``Connection`` or ``Session``)."""

    def __init__(self, conn: Any, table: str | tuple[str, str], columns: Sequence[str] | None = None,
                 binary: bool | None = None):
        super().__init__(table, columns, binary)
        self.conn = conn
        if self.columns:
            driver, _ = connection_of(conn)
            run(driver, self.describe(driver))

    def _run(self, steps: Callable[..., Steps[int]], rows: Any, *args: Any) -> int:
        driver, joined = connection_of(self.conn)
        rows = self._columns_from(rows)
        if not self.ready:
            run(driver, self.describe(driver))
        with atomic(driver, joined):
            return run(driver, steps(rows, *args))

    def insert(self, rows: Iterable[Any]) -> int:
        """COPY ``rows`` into the table; returns how many."""
        return self._run(self.insert_steps, rows)

    def upsert(self, rows: Iterable[Any], key: Sequence[str], update: Sequence[str] | None = None) -> int:
        """Insert ``rows``, updating those whose ``key`` exists (``update``: the columns to
        overwrite, default all but the key). Rows go through a temporary staging table by COPY;
        returns how many rows were inserted or updated."""
        return self._run(self.upsert_steps, rows, key, update)

    def update(self, rows: Iterable[Any], key: Sequence[str], columns: Sequence[str]) -> int:
        """Set ``columns`` of many rows to different values in one statement; returns how many."""
        return self._run(self.update_steps, list(rows), key, columns)


class AsyncBatchWriter(_BatchCore):
    """:class:`BatchWriter` for asyncio: ``conn`` is a psycopg ``AsyncConnection`` or a SQLAlchemy
    ``AsyncConnection`` or ``AsyncSession``; ``rows`` may be an async iterable. The columns' types
    are read on the first call. A task cancelled in the middle of a call leaves none of its rows."""

    def __init__(self, conn: Any, table: str | tuple[str, str], columns: Sequence[str] | None = None,
                 binary: bool | None = None):
        super().__init__(table, columns, binary)
        self.conn = conn

    async def _run(self, steps: Callable[..., Steps[int]], rows: Any, *args: Any) -> int:
        driver, joined = await aconnection_of(self.conn)
        rows = self._columns_from(rows)
        if not self.ready:
            await arun(driver, self.describe(driver))
        async with aatomic(driver, joined):
            return await arun(driver, steps(rows, *args))

    async def insert(self, rows: Iterable[Any] | AsyncIterable[Any]) -> int:
        """COPY ``rows`` into the table; returns how many."""
        return await self._run(self.insert_steps, rows)

    async def upsert(self, rows: Iterable[Any] | AsyncIterable[Any], key: Sequence[str],
                     update: Sequence[str] | None = None) -> int:
        """As :meth:`BatchWriter.upsert`."""
        return await self._run(self.upsert_steps, rows, key, update)

    async def update(self, rows: Iterable[Any], key: Sequence[str], columns: Sequence[str]) -> int:
        """As :meth:`BatchWriter.update`."""
        return await self._run(self.update_steps, list(rows), key, columns)


def batch_insert(conn: Any, table: str, rows: Sequence[Any], columns: Sequence[str] | None = None) -> int:
    """``BatchWriter(conn, table, columns).insert(rows)``: the seed's ``batch_insert``."""
    return BatchWriter(conn, table, columns).insert(rows)


async def abatch_insert(conn: Any, table: str, rows: Sequence[Any] | AsyncIterable[Any],
                        columns: Sequence[str] | None = None) -> int:
    """``await AsyncBatchWriter(conn, table, columns).insert(rows)``: the seed's
    ``await batch_insert(session, "agents", agents)``."""
    return await AsyncBatchWriter(conn, table, columns).insert(rows)
