"""Terminal output: rich on a terminal (colors, progress bars), plain lines otherwise."""

from __future__ import annotations

import sys
import threading
import time
from typing import IO

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from reconciler.base.markup import controls_escaped
from reconciler.base.redaction import redact
from reconciler.engine.apply.monitor import BuildProgress
from reconciler.plan.models import Change, Statement

err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def _safe(text: str) -> str:
    """Text from the database as it may reach a terminal: secrets redacted, controls escaped."""
    return controls_escaped(redact(text))


def out_console(file: IO[str] | None = None) -> Console:
    """A console for stdout (or ``file``); markup is rendered, colors only on a terminal."""
    return Console(file=file or sys.stdout, highlight=False, soft_wrap=True)


class ConsoleReporter:
    """Reports apply progress: a rich progress bar for index builds on a terminal, a plain line
    every few seconds otherwise."""

    def __init__(self, console: Console | None = None, plain_every_s: float = 5.0):
        self.console = console or err_console
        self.interactive = self.console.is_terminal
        self.plain_every_s = plain_every_s
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._last_line = 0.0

    def change_started(self, number: int, total: int, change: Change) -> None:
        self.console.print(f"[{number}/{total}] [bold]{escape(_safe(change.title))}[/]",
                           markup=True, highlight=False)

    def statement_started(self, change: Change, statement: Statement) -> None:
        self._finish_bar()
        self.console.print(f"    {_safe(statement.sql)}", markup=False, highlight=False)
        if statement.builds and self.interactive:
            self._progress = Progress(TextColumn("    {task.description}"), BarColumn(),
                                      TextColumn("{task.percentage:>5.1f}%"), TimeElapsedColumn(),
                                      console=self.console, transient=True)
            self._progress.start()
            self._task = self._progress.add_task("starting", total=1.0)

    def progress(self, change: Change, statement: Statement, progress: BuildProgress) -> None:
        fraction = progress.fraction
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=progress.phase, completed=fraction or 0.0)
        elif time.monotonic() - self._last_line >= self.plain_every_s:
            self._last_line = time.monotonic()
            share = f" {fraction * 100:.0f}%" if fraction is not None else ""
            self.console.print(f"    … {progress.phase}{share}", markup=False, highlight=False)

    def retrying(self, change: Change, statement: Statement, attempt: int, delay: float, reason: str) -> None:
        self._finish_bar()
        self.console.print(f"    retry {attempt} in {delay:.1f}s: {_safe(reason)}", markup=False, highlight=False)

    def waiting(self, message: str) -> None:
        """A wait on the cluster (replicas replaying, members restarting)."""
        self._finish_bar()
        now = time.monotonic()
        if now - self._last_line >= 1.0 or "restart" in message:
            self._last_line = now
            self.console.print(f"    {_safe(message)}", markup=False, highlight=False)

    def change_done(self, change: Change, seconds: float) -> None:
        self._finish_bar()
        self.console.print(f"    done in {seconds:.2f}s", markup=False, highlight=False)

    def _finish_bar(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


class FleetProgress:
    """One line per running target on a terminal (``name: planning``); silent otherwise.
    Called from the fleet's worker threads."""

    def __init__(self, console: Console | None = None):
        self.console = console or err_console
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> FleetProgress:
        if self.console.is_terminal:
            self._progress = Progress(TextColumn("  {task.description}"), TimeElapsedColumn(), console=self.console,
                                      transient=True)
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def __call__(self, name: str, doing: str) -> None:
        if self._progress is None:
            return
        with self._lock:
            task = self._tasks.get(name)
            if not doing:
                if task is not None:
                    self._progress.remove_task(task)
                    del self._tasks[name]
            elif task is None:
                self._tasks[name] = self._progress.add_task(f"{name}: {doing}")
            else:
                self._progress.update(task, description=f"{name}: {doing}")
