"""What the helpers send to the server, kept apart from how it is sent.

Each helper's logic (which statements, with which parameters, in which order, what to make of
their results) is written once, as a generator that yields :class:`Query` and :class:`Copy` steps
and receives each step's outcome. :func:`run` drives it on a psycopg ``Connection``, :func:`arun`
on an ``AsyncConnection``: the sync and asyncio helpers share everything but these two loops
(the "sans-I/O" shape psycopg itself is built on).

>>> def count(table):
...     result = yield Query(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
...     return result.rows[0][0]
>>> run(conn, count("agents"))            # doctest: +SKIP
>>> await arun(aconn, count("agents"))    # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from psycopg import pq, sql

T = TypeVar("T")


@dataclass(frozen=True)
class Query:
    """Execute ``statement``; the outcome is a :class:`Result` (rows when it returns any)."""

    statement: sql.Composed | sql.SQL | str
    params: Any = None
    prepare: bool | None = None


@dataclass(frozen=True)
class Copy:
    """``COPY … FROM STDIN`` of ``rows``, each turned into a tuple by ``convert`` and adapted by
    ``types``; the outcome is the number of rows sent. ``rows`` may be an async iterable under
    :func:`arun`."""

    statement: sql.Composed | sql.SQL
    types: Sequence[str]
    rows: Iterable[Any] | AsyncIterable[Any]
    convert: Callable[[Any], Sequence[Any]] = tuple


@dataclass(frozen=True)
class Result:
    rowcount: int
    rows: list[Any] | None = None


Steps = Generator[Query | Copy, Any, T]


def dumpable(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any], type_name: str, binary: bool) -> bool:
    """Whether psycopg can adapt values of ``type_name`` on ``conn`` (binary or text format)."""
    info = conn.adapters.types.get(type_name)
    if info is None:
        return False
    try:
        conn.adapters.get_dumper_by_oid(info.oid, pq.Format.BINARY if binary else pq.Format.TEXT)
    except psycopg.ProgrammingError:
        return False
    return True


def run(conn: psycopg.Connection[Any], steps: Steps[T]) -> T:
    """Drive ``steps`` on a sync connection."""
    outcome: Any = None
    with conn.cursor() as cur:
        while True:
            try:
                step = steps.send(outcome)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]  # the generator's return value, a T
            if isinstance(step, Copy):
                outcome = 0
                with cur.copy(step.statement) as copy:
                    copy.set_types(list(step.types))
                    for row in _sync_rows(step.rows):
                        copy.write_row(step.convert(row))
                        outcome += 1
            else:
                cur.execute(step.statement, step.params, prepare=step.prepare)
                outcome = Result(cur.rowcount, cur.fetchall() if cur.description is not None else None)


async def arun(conn: psycopg.AsyncConnection[Any], steps: Steps[T]) -> T:
    """Drive ``steps`` on an asyncio connection."""
    outcome: Any = None
    async with conn.cursor() as cur:
        while True:
            try:
                step = steps.send(outcome)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]  # the generator's return value, a T
            if isinstance(step, Copy):
                outcome = 0
                async with cur.copy(step.statement) as copy:
                    copy.set_types(list(step.types))
                    async for row in _async_rows(step.rows):
                        await copy.write_row(step.convert(row))
                        outcome += 1
            else:
                await cur.execute(step.statement, step.params, prepare=step.prepare)
                outcome = Result(cur.rowcount, await cur.fetchall() if cur.description is not None else None)


def _sync_rows(rows: Iterable[Any] | AsyncIterable[Any]) -> Iterator[Any]:
    if not isinstance(rows, Iterable):
        raise TypeError("an async iterable of rows needs the asyncio helper (AsyncBatchWriter)")
    yield from rows


async def _async_rows(rows: Iterable[Any] | AsyncIterable[Any]) -> AsyncIterator[Any]:
    if isinstance(rows, AsyncIterable):
        async for row in rows:
            yield row
    else:
        for row in rows:
            yield row


@contextlib.contextmanager
def atomic(conn: psycopg.Connection[Any], joined: bool) -> Iterator[None]:
    """All or nothing: a transaction of its own (a savepoint inside the caller's). ``joined``:
    the connection belongs to a caller's transaction (a SQLAlchemy session) that has not sent a
    statement yet; the steps then open it, and the caller's commit or rollback decides."""
    if joined and conn.info.transaction_status == pq.TransactionStatus.IDLE:
        yield
        return
    with conn.transaction():
        yield


@contextlib.asynccontextmanager
async def aatomic(conn: psycopg.AsyncConnection[Any], joined: bool) -> AsyncIterator[None]:
    """:func:`atomic` for an asyncio connection."""
    if joined and conn.info.transaction_status == pq.TransactionStatus.IDLE:
        yield
        return
    async with conn.transaction():
        yield
