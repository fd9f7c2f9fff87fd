"""Running a fleet: plan and check every target in parallel (bounded by ``parallel``), apply wave
by wave. One slow or unreachable target never blocks or hides the others: its error is kept in
its outcome, and the others go on. A target that takes longer than its ``timeout`` is reported as
timed out and its sessions are cancelled; its worker is a daemon thread, so a target whose server
does not answer at all cannot keep the command from ending."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import psycopg

from reconciler.base.errors import PgreconError
from reconciler.base.units import format_duration_ms
from reconciler.commands.fleet.spec import Fleet, FleetTarget
from reconciler.connect.session import redact
from reconciler.connect.targets import Target, patroni_client, session_policy
from reconciler.engine.apply import SilentReporter, options_for, run_apply
from reconciler.engine.planner import make_plan
from reconciler.plan.models import Change, Note, Plan


@dataclass
class TargetOutcome:
    """What happened on one target."""

    name: str
    wave: str
    server_version: str = ""
    plan: Plan | None = None
    error: str | None = None
    applied: int | None = None          # apply: changes applied
    untouched: bool = False             # apply: a wave before failed, this target was not started
    remaining: tuple[Change, ...] = ()  # apply: what is still different afterwards
    unverified: tuple[str, ...] = ()    # apply: replicas down when apply checked them, "name (state)"
    seconds: float = 0.0

    @property
    def changes(self) -> tuple[Change, ...]:
        if self.applied is not None:
            return self.remaining
        return self.plan.changes if self.plan is not None else ()

    @property
    def notes(self) -> tuple[Note, ...]:
        return self.plan.notes if self.plan is not None else ()

    @property
    def in_sync(self) -> bool | None:
        """``None`` when unknown (an error, or not started)."""
        if self.error is not None or self.untouched:
            return None
        return not self.changes


@dataclass
class FleetRun:
    """Every target's outcome, in the fleet file's order."""

    command: str
    outcomes: list[TargetOutcome] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(1 for o in self.outcomes if o.error is not None)

    @property
    def in_sync(self) -> bool:
        return all(o.in_sync for o in self.outcomes)

    @property
    def exit_code(self) -> int:
        if self.errors:
            return 1
        if self.command == "apply":
            return 0 if self.in_sync else 1
        return 0 if self.in_sync else 2


Progress = Callable[[str, str], None]   # (target name, what it is doing now; "" when done)


def target_of(fleet: Fleet, target: FleetTarget) -> Target:
    i = fleet.spec.targets.index(target)
    dsn = fleet.secret(("targets", i, "dsn"), target.dsn)
    client = patroni_client(target.patroni, fleet.secret, ("targets", i, "patroni"), dsn) if target.patroni else None
    return Target(dsn, client, target.name, session_policy(fleet.specs[target.name]))


def _error(exc: BaseException) -> str:
    if isinstance(exc, PgreconError):
        return redact(exc.message)
    if isinstance(exc, psycopg.Error):
        return f"database error: {redact(str(exc).strip())}"
    return f"internal error: {type(exc).__name__}: {redact(str(exc))}"


@contextmanager
def _recorded(outcome: TargetOutcome, progress: Progress | None) -> Iterator[None]:
    """Time the block into ``outcome``; an error is kept in it (one target's failure is reported
    in its row, never hides the others); the progress line is cleared at the end."""
    started = time.monotonic()
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - see above
        outcome.error = _error(exc)
    finally:
        outcome.seconds = time.monotonic() - started
        if progress:
            progress(outcome.name, "")


@dataclass
class _Job:
    """One target's work, as the runner watches it."""

    target: FleetTarget
    timeout_s: float | None
    where: Target | None = None          # set by the worker once it knows where it connects
    outcome: TargetOutcome | None = None
    started: float = 0.0


def _run_all(jobs: list[_Job], work: Callable[[_Job], TargetOutcome], parallel: int,
             progress: Progress | None) -> list[TargetOutcome]:
    """Run ``work`` for every job, ``parallel`` at a time, each in a daemon thread, and give each
    job its outcome: the worker's, or "timed out" once its time is up (its sessions cancelled)."""
    done = threading.Condition()
    waiting = list(jobs)
    running: list[_Job] = []

    def worker(job: _Job) -> None:
        outcome = work(job)
        with done:
            if job.outcome is None:
                job.outcome = outcome
            done.notify_all()

    with done:
        while waiting or running:
            while waiting and len(running) < parallel:
                job = waiting.pop(0)
                job.started = time.monotonic()
                running.append(job)
                threading.Thread(target=worker, args=(job,), name=f"pgrecon-{job.target.name}", daemon=True).start()
            now = time.monotonic()
            for job in [j for j in running if j.outcome is None and j.timeout_s and now - j.started >= j.timeout_s]:
                job.outcome = _timed_out(job, progress)
            running = [j for j in running if j.outcome is None]
            if running:
                deadlines = [j.started + j.timeout_s for j in running if j.timeout_s]
                done.wait(timeout=max(0.05, min(deadlines) - time.monotonic()) if deadlines else None)
    return [job.outcome for job in jobs if job.outcome is not None]


def _timed_out(job: _Job, progress: Progress | None) -> TargetOutcome:
    assert job.timeout_s is not None
    if job.where is not None:
        job.where.cancel()
    if progress:
        progress(job.target.name, "")
    return TargetOutcome(job.target.name, job.target.wave, seconds=time.monotonic() - job.started,
                         error=f"timed out after {format_duration_ms(int(job.timeout_s * 1000))} (the fleet's "
                               f"timeout); its sessions were cancelled. Changes an apply made before that stay "
                               f"made: run it again")


def _jobs(fleet: Fleet, targets: list[FleetTarget]) -> list[_Job]:
    def limit(target: FleetTarget) -> float | None:
        ms = target.timeout if target.timeout is not None else fleet.spec.timeout
        return ms / 1000 if ms else None
    return [_Job(t, limit(t)) for t in targets]


def _plan_one(fleet: Fleet, job: _Job, now: datetime | None, progress: Progress | None) -> TargetOutcome:
    target = job.target
    outcome = TargetOutcome(target.name, target.wave)
    with _recorded(outcome, progress):
        if progress:
            progress(target.name, "connecting")
        where = job.where = target_of(fleet, target)
        with where.session() as conn:
            if progress:
                progress(target.name, "planning")
            outcome.plan = make_plan(conn, fleet.specs[target.name], now=now, fingerprint=False, target=where)
            outcome.server_version = outcome.plan.server_version
    return outcome


def plan_fleet(fleet: Fleet, targets: list[FleetTarget], now: datetime | None = None,
               progress: Progress | None = None, command: str = "plan") -> FleetRun:
    """Plan every target, ``parallel`` at a time, each within its timeout."""
    outcomes = _run_all(_jobs(fleet, targets), lambda job: _plan_one(fleet, job, now, progress),
                        fleet.spec.parallel, progress)
    return FleetRun(command, outcomes)


@dataclass(frozen=True)
class FleetApply:
    """What the command line says about every target's apply (each spec says the rest)."""

    allow_hazards: frozenset[str] = frozenset()
    restart: bool = False
    lock_timeout_ms: int | None = None
    lock_wait_ms: int | None = None


def _apply_one(fleet: Fleet, job: _Job, how: FleetApply, now: datetime | None,
               progress: Progress | None) -> TargetOutcome:
    target = job.target
    outcome = TargetOutcome(target.name, target.wave)
    with _recorded(outcome, progress):
        if progress:
            progress(target.name, "applying")
        spec = fleet.specs[target.name]
        options = options_for(spec.target, how.allow_hazards, how.restart, how.lock_timeout_ms, how.lock_wait_ms)
        job.where = target_of(fleet, target)
        result = run_apply(job.where, spec, None, options, SilentReporter(), now=now)
        outcome.plan = result.plan
        outcome.server_version = result.plan.server_version
        outcome.applied = len(result.results)
        outcome.remaining = result.remaining.changes
        outcome.unverified = tuple(result.unverified)
        if not result.in_sync:
            outcome.error = "applied, but not in sync: " + "; ".join(c.title for c in result.remaining.changes)
    return outcome


def apply_fleet(fleet: Fleet, targets: list[FleetTarget], allow_hazards: frozenset[str] = frozenset(),
                restart: bool = False, lock_timeout_ms: int | None = None, lock_wait_ms: int | None = None,
                now: datetime | None = None, continue_on_error: bool = False,
                progress: Progress | None = None) -> FleetRun:
    """Apply wave by wave (inside a wave, ``parallel`` targets at a time). When a target of a wave
    fails, the later waves are not started (unless ``continue_on_error``): they are reported as
    untouched."""
    how = FleetApply(allow_hazards, restart, lock_timeout_ms, lock_wait_ms)
    run = FleetRun("apply")
    by_name: dict[str, TargetOutcome] = {}
    stopped = False
    for wave in fleet.waves:
        members = [t for t in targets if t.wave == wave]
        if not members:
            continue
        if stopped:
            for t in members:
                by_name[t.name] = TargetOutcome(t.name, wave, untouched=True)
            continue
        for outcome in _run_all(_jobs(fleet, members), lambda job: _apply_one(fleet, job, how, now, progress),
                                fleet.spec.parallel, progress):
            by_name[outcome.name] = outcome
        if any(by_name[t.name].error for t in members) and not continue_on_error:
            stopped = True
    run.outcomes = [by_name[t.name] for t in targets if t.name in by_name]
    return run
