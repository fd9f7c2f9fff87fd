"""Execute a plan's statements: the only code that writes to a database.

Each statement runs with ``lock_timeout`` (and ``statement_timeout``: a separate one for index
builds). Statements that must run outside a transaction (``CONCURRENTLY``) run in autocommit;
the others in their own transaction. A lock timeout is retried with exponential backoff; when
retries run out the error names the session that held the lock. A failed concurrent build
leaves an INVALID index behind: it is dropped before the retry or the error.
"""

from __future__ import annotations

import contextlib
import random
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Protocol

import psycopg
from psycopg import errors as pgerrors

from reconciler.base.errors import ApplyFailed
from reconciler.base.files import write_atomic
from reconciler.base.units import format_duration_ms
from reconciler.connect.session import time_own_statements
from reconciler.engine.apply.cluster import ClusterOps
from reconciler.engine.apply.history import History
from reconciler.engine.apply.locking import describe_session
from reconciler.engine.apply.monitor import BuildProgress, StatementMonitor
from reconciler.plan.models import Change, Plan, Statement
from reconciler.render import render_statement
from reconciler.resources.pgbouncer.live import read_live, reload
from reconciler.spec.target import TargetSpec


@dataclass(frozen=True)
class ApplyOptions:
    """Timeouts and retries for apply (from the spec's ``target``, overridden by flags)."""

    lock_timeout_ms: int = 5000
    lock_retries: int = 5
    statement_timeout_ms: int = 60_000
    build_timeout_ms: int = 0
    lock_wait_ms: int = 60_000
    backoff_base_s: float = 1.0
    backoff_max_s: float = 30.0
    allow_hazards: frozenset[str] = field(default_factory=frozenset)
    record_history: bool = True
    restart: bool = False          # restart members that wait for a restart, through Patroni
    skip_refused: bool = False     # run what is allowed (and needs nothing refused); report the rest
    settings_timeout_ms: int = 60_000
    replica_timeout_ms: int = 60_000


def options_for(spec_target: TargetSpec, allow_hazards: frozenset[str] = frozenset(), restart: bool = False,
                lock_timeout_ms: int | None = None, lock_wait_ms: int | None = None,
                skip_refused: bool = False) -> ApplyOptions:
    """Apply options from a spec's ``target`` section, with the command line's overrides."""
    return ApplyOptions(lock_timeout_ms=lock_timeout_ms or spec_target.lock_timeout,
                        lock_retries=spec_target.lock_retries, statement_timeout_ms=spec_target.statement_timeout,
                        build_timeout_ms=spec_target.build_timeout,
                        lock_wait_ms=lock_wait_ms or spec_target.lock_wait, allow_hazards=allow_hazards,
                        restart=restart, skip_refused=skip_refused, settings_timeout_ms=spec_target.settings_timeout,
                        replica_timeout_ms=spec_target.replica_timeout)


class ApplyReporter(Protocol):
    """What apply tells as it goes (the CLI shows it; tests may record it)."""

    def change_started(self, number: int, total: int, change: Change) -> None: ...
    def statement_started(self, change: Change, statement: Statement) -> None: ...
    def progress(self, change: Change, statement: Statement, progress: BuildProgress) -> None: ...
    def retrying(self, change: Change, statement: Statement, attempt: int, delay: float, reason: str) -> None: ...
    def change_done(self, change: Change, seconds: float) -> None: ...


def write_config_file(path: str, content: str) -> None:
    """Replace a configuration file atomically, keeping its mode and owner (see
    :func:`~reconciler.base.files.write_atomic`)."""
    write_atomic(path, content)


class SilentReporter:
    """An :class:`ApplyReporter` that says nothing."""

    def change_started(self, number: int, total: int, change: Change) -> None: pass
    def statement_started(self, change: Change, statement: Statement) -> None: pass
    def progress(self, change: Change, statement: Statement, progress: BuildProgress) -> None: pass
    def retrying(self, change: Change, statement: Statement, attempt: int, delay: float, reason: str) -> None: pass
    def change_done(self, change: Change, seconds: float) -> None: pass


@dataclass
class ChangeResult:
    change: Change
    seconds: float


def _set_timeouts(conn: psycopg.Connection, lock_ms: int, statement_ms: int, local: bool) -> None:
    conn.execute("SELECT pg_catalog.set_config('lock_timeout', %s, %s), "
                 "pg_catalog.set_config('statement_timeout', %s, %s)",
                 (f"{lock_ms}ms", local, f"{statement_ms}ms", local))


def _server_message(exc: psycopg.Error) -> str:
    diag = exc.diag
    text = diag.message_primary or str(exc).strip().splitlines()[0]
    if diag.message_detail:
        text += f" ({diag.message_detail})"
    return text


class Executor:
    """Runs changes on ``conn`` (autocommit), watching each statement from ``monitor_conn``."""

    def __init__(self, conn: psycopg.Connection, monitor_conn: psycopg.Connection | None,
                 options: ApplyOptions, reporter: ApplyReporter | None = None, sleep: Any = time.sleep,
                 pgbouncer_dsn: str | None = None, cluster: ClusterOps | None = None):
        self.pgbouncer_dsn = pgbouncer_dsn
        self.cluster = cluster
        self.conn = conn
        self.monitor_conn = monitor_conn
        self.options = options
        self.reporter = reporter or SilentReporter()
        self.sleep = sleep
        self.pid = conn.info.backend_pid
        # If pgrecon dies, the server stops its build instead of finishing it unseen.
        conn.execute("SELECT pg_catalog.set_config('client_connection_check_interval', '1s', false)")
        # What apply reports done is on disk: with synchronous_commit = off (a common tuning) the
        # commit that marks a concurrent build valid can sit unwritten until other WAL pushes it
        # out, so a crash would lose it and a replica checked "after replaying" would not have it.
        conn.execute("SELECT pg_catalog.set_config('synchronous_commit', 'local', false) "
                     "WHERE pg_catalog.current_setting('synchronous_commit') = 'off'")
        time_own_statements(conn)  # lock_timeout, statement_timeout, build_timeout: set per statement

    def run(self, plan: Plan, history: History | None = None) -> list[ChangeResult]:
        """Execute every change of ``plan`` in order; raises :class:`ApplyFailed` at the first
        failure (changes before it stay applied; the next apply continues from there). Each
        result goes to ``history`` (a :class:`~reconciler.engine.apply.history.History`) when given."""
        results: list[ChangeResult] = []
        total = len(plan.changes)
        for number, change in enumerate(plan.changes, start=1):
            self.reporter.change_started(number, total, change)
            started = time.monotonic()
            try:
                for statement in change.statements:
                    self.reporter.statement_started(change, statement)
                    self.run_statement(change, statement)
            except ApplyFailed as exc:
                if history is not None:
                    history.change_done(number - 1, time.monotonic() - started, exc.message)
                raise ApplyFailed(f"{exc.message}\n{len(results)} of {total} changes were applied before this one; "
                                  f"run apply again to continue from here.") from None
            seconds = time.monotonic() - started
            results.append(ChangeResult(change, seconds))
            if history is not None:
                history.change_done(number - 1, seconds)
            self.reporter.change_done(change, seconds)
        return results

    def run_statement(self, change: Change, statement: Statement) -> None:
        """Run one statement with timeouts, lock-timeout retries and cleanup of failed builds."""
        if statement.target == "file":
            if statement.path is None or statement.content is None:
                raise ApplyFailed(f"{change.title}: a file statement without a path or content")
            return write_config_file(statement.path, statement.content)
        if statement.target == "pgbouncer":
            return self._pgbouncer_reload(statement)
        if statement.target in ("patroni", "member"):
            return self._cluster_statement(change, statement)
        opts = self.options
        timeout = opts.build_timeout_ms if statement.timeout == "build" else opts.statement_timeout_ms
        for attempt in range(opts.lock_retries + 1):
            monitor = None
            try:
                monitor = self._monitor(change, statement)
                with monitor or nullcontext():
                    if statement.transactional:
                        with self.conn.transaction():
                            _set_timeouts(self.conn, opts.lock_timeout_ms, timeout, local=True)
                            self.conn.execute(statement.sql)
                    else:
                        _set_timeouts(self.conn, opts.lock_timeout_ms, timeout, local=False)
                        self.conn.execute(statement.sql)
                return
            except pgerrors.LockNotAvailable as exc:
                self._clean_failed_build(statement)
                blockers = monitor.blockers if monitor else []
                who = "; ".join(describe_session(b) for b in blockers) or "a session that has since gone"
                if attempt >= opts.lock_retries:
                    raise ApplyFailed(
                        f"{change.title}: could not get a "
                        f"{statement.lock or 'needed'} lock within lock_timeout "
                        f"{format_duration_ms(opts.lock_timeout_ms)} after {attempt + 1} attempts.\n"
                        f"Blocked by: {who}\nStatement: {statement.sql}\nServer: {_server_message(exc)}") from None
                delay = min(opts.backoff_max_s, opts.backoff_base_s * 2 ** attempt) * (0.5 + random.random() / 2)
                self.reporter.retrying(change, statement, attempt + 1, delay, f"lock timeout; blocked by {who}")
                self.sleep(delay)
            except psycopg.OperationalError as exc:
                raise ApplyFailed(f"{change.title}: lost the connection: "
                                  f"{_server_message(exc)}\nStatement: {statement.sql}") from None
            except psycopg.Error as exc:
                self._clean_failed_build(statement)
                raise ApplyFailed(f"{change.title} failed: {_server_message(exc)}\n"
                                  f"Statement: {statement.sql}") from None

    def _cluster_statement(self, change: Change, statement: Statement) -> None:
        if self.cluster is None:
            raise ApplyFailed(f"{change.title} goes through Patroni, but this apply has no cluster (target.patroni)")
        if statement.target == "member":
            self.cluster.run_on_member(statement.member or "", statement.sql)
        elif statement.patch is not None:
            self.cluster.patch(statement.patch)
        elif statement.expect is not None:
            self.cluster.wait_for_settings(statement.expect)

    def _pgbouncer_reload(self, statement: Statement, wait_s: float = 3.0) -> None:
        """RELOAD, then check SHOW CONFIG: PgBouncer keeps its old configuration when a reload
        fails and says so only in its log."""
        if not self.pgbouncer_dsn:
            raise ApplyFailed("pgbouncer.admin_dsn is needed to reload PgBouncer")
        reload(self.pgbouncer_dsn)
        deadline = time.monotonic() + wait_s
        while True:
            config = read_live(self.pgbouncer_dsn).config
            wrong = {k: v for k, v in (statement.expect or {}).items() if (config.get(k, (None,))[0] or "") != v}
            if not wrong:
                return
            if time.monotonic() >= deadline:
                shown = ", ".join(f"{k} is {config.get(k, (None,))[0]!r}, expected {v!r}" for k, v in wrong.items())
                raise ApplyFailed(f"PgBouncer kept its old configuration after RELOAD ({shown}); the new file "
                                  f"was probably refused: see PgBouncer's log")
            self.sleep(0.2)

    def _monitor(self, change: Change, statement: Statement) -> StatementMonitor | None:
        if self.monitor_conn is None:
            return None

        def on_progress(progress: BuildProgress) -> None:
            self.reporter.progress(change, statement, progress)

        return StatementMonitor(self.monitor_conn, self.pid, watch_progress=statement.builds is not None,
                                on_progress=on_progress)

    def _clean_failed_build(self, statement: Statement) -> None:
        """Drop the INVALID index a failed concurrent build leaves behind."""
        if statement.builds is None or self.conn.closed or self.conn.broken:
            return
        with contextlib.suppress(psycopg.Error):  # else the next plan sees the INVALID index and rebuilds it
            self.conn.execute(render_statement("indexes/drop_index", index=statement.builds, concurrently=True,
                                               if_exists=True))
