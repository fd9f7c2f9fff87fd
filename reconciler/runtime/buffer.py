"""A buffer that hands rows to a writer in batches: when ``max_rows`` are waiting, when the oldest
has waited ``max_age_s``, on ``close`` and on leaving its ``with`` block — sync (a timer thread)
or asyncio (a timer task).

>>> buffer = PendingBuffer(BatchWriter(conn, "events", ["id", "v"]).insert, max_rows=500)   # doctest: +SKIP
>>> async with AsyncPendingBuffer(AsyncBatchWriter(aconn, "events").insert) as buffer:       # doctest: +SKIP
...     await buffer.add({"id": 1, "v": "x"})

``flush`` must write a batch atomically (as the batch writers do). If it raises, the batch stays in
the buffer, in order, ahead of newer rows, and :class:`FlushError` is raised: nothing is lost and
nothing is written twice by pgrecon. An asyncio flush in progress is never cut short by the
cancellation of the task that started it: the batch is written (or not) whole and accounted for,
then the cancellation goes on.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any


class FlushError(Exception):
    """A flush failed; ``rows`` are still buffered (they will be retried) and ``cause`` says why."""

    def __init__(self, rows: list[Any], cause: BaseException):
        super().__init__(f"flush of {len(rows)} rows failed: {cause}")
        self.rows = rows
        self.cause = cause


class _Rows:
    """The bookkeeping both buffers share: rows waiting, the age of the oldest, counters."""

    def __init__(self, max_rows: int, max_age_s: float, clock: Callable[[], float]):
        if max_rows < 1 or max_age_s <= 0:
            raise ValueError("max_rows must be at least 1 and max_age_s above 0")
        self.max_rows = max_rows
        self.max_age_s = max_age_s
        self.clock = clock
        self._rows: list[Any] = []
        self._oldest: float | None = None
        self.flushed_rows = 0
        self.failed_flushes = 0

    def __len__(self) -> int:
        return len(self._rows)

    def _append(self, row: Any) -> bool:
        """Add ``row``; whether the buffer is now full."""
        if not self._rows:
            self._oldest = self.clock()
        self._rows.append(row)
        return len(self._rows) >= self.max_rows

    def _due(self) -> bool:
        return bool(self._rows) and self._oldest is not None and self.clock() - self._oldest >= self.max_age_s

    def _written(self, batch: list[Any]) -> int:
        del self._rows[:len(batch)]
        self._oldest = self.clock() if self._rows else None
        self.flushed_rows += len(batch)
        return len(batch)

    def _failed(self, batch: list[Any], exc: BaseException) -> FlushError:
        self.failed_flushes += 1
        return FlushError(batch, exc)

    def _interval(self, interval_s: float | None) -> float:
        return interval_s or max(self.max_age_s / 4, 0.01)


class PendingBuffer(_Rows):
    """Rows for ``flush(rows)``, safe under threads; a background timer is optional
    (:meth:`start_timer`); ``close`` runs at interpreter exit unless ``at_exit`` is false."""

    def __init__(self, flush: Callable[[list[Any]], object], max_rows: int = 1000, max_age_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic, at_exit: bool = True):
        super().__init__(max_rows, max_age_s, clock)
        self._flush = flush
        self._lock = threading.RLock()
        self._timer: threading.Thread | None = None
        self._stop = threading.Event()
        if at_exit:
            atexit.register(self.close)

    def add(self, row: Any) -> None:
        with self._lock:
            if self._append(row):
                self.flush()
            else:
                self.tick()

    def tick(self) -> None:
        """Flush if the oldest waiting row is older than ``max_age_s``."""
        with self._lock:
            if self._due():
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
                raise self._failed(batch, exc) from exc
            return self._written(batch)

    def start_timer(self, interval_s: float | None = None) -> None:
        """Check the age in a background thread (a failed flush keeps its rows for the next one)."""
        interval = self._interval(interval_s)

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

    def __enter__(self) -> PendingBuffer:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class AsyncPendingBuffer(_Rows):
    """:class:`PendingBuffer` for asyncio: ``flush`` is a coroutine function (an
    :class:`~reconciler.runtime.batch.AsyncBatchWriter`'s ``insert``); the age is checked by a task
    started on entering ``async with`` (or by :meth:`start_timer`)."""

    def __init__(self, flush: Callable[[list[Any]], Awaitable[object]], max_rows: int = 1000,
                 max_age_s: float = 1.0, clock: Callable[[], float] = time.monotonic):
        super().__init__(max_rows, max_age_s, clock)
        self._flush = flush
        self._lock = asyncio.Lock()
        self._timer: asyncio.Task[None] | None = None

    async def add(self, row: Any) -> None:
        if self._append(row) or self._due():
            await self.flush()

    async def tick(self) -> None:
        """Flush if the oldest waiting row is older than ``max_age_s``."""
        if self._due():
            await self.flush()

    async def flush(self) -> int:
        """Write everything waiting; returns how many rows were written."""
        async with self._lock:
            if not self._rows:
                return 0
            batch = list(self._rows)
            writing = asyncio.ensure_future(self._flush(batch))
            try:
                await asyncio.shield(writing)
            except asyncio.CancelledError:
                # Our caller was cancelled: the write goes on to its end, is accounted for, and
                # then the cancellation does.
                if not writing.done():
                    await asyncio.wait([writing])
                if not writing.cancelled() and writing.exception() is None:
                    self._written(batch)
                raise
            except Exception as exc:
                raise self._failed(batch, exc) from exc
            return self._written(batch)

    def start_timer(self, interval_s: float | None = None) -> None:
        """Check the age in a task of the running loop (a failed flush keeps its rows)."""
        interval = self._interval(interval_s)

        async def run() -> None:
            while True:
                await asyncio.sleep(interval)
                with contextlib.suppress(FlushError):
                    await self.tick()

        self._timer = asyncio.get_running_loop().create_task(run(), name="pgrecon-buffer")

    async def close(self) -> None:
        """Stop the timer and flush what is left (raises :class:`FlushError` if that fails)."""
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
            self._timer = None
        await self.flush()

    async def __aenter__(self) -> AsyncPendingBuffer:
        if self._timer is None:
            self.start_timer()
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()
