"""Running a fleet: plan and check every target in parallel (bounded by ``parallel``), apply wave
by wave. One slow or unreachable target never blocks or hides the others: its error is kept in
its outcome, and the others go on."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import psycopg

from ..apply import SilentReporter, options_for, run_apply
from ..connection import connect, redact
from ..errors import PgreconError
from ..plan.make import make_plan
from ..plan.models import Change, Note, Plan
from ..targets import Target, patroni_client
from .spec import Fleet, FleetTarget


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
    client = patroni_client(target.patroni, fleet.secret, ("targets", i, "patroni")) if target.patroni else None
    return Target(dsn, client, target.name)


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


def _plan_one(fleet: Fleet, target: FleetTarget, now: datetime | None, progress: Progress | None) -> TargetOutcome:
    outcome = TargetOutcome(target.name, target.wave)
    with _recorded(outcome, progress):
        if progress:
            progress(target.name, "connecting")
        where = target_of(fleet, target)
        with connect(where.dsn) as conn:
            if progress:
                progress(target.name, "planning")
            outcome.plan = make_plan(conn, fleet.specs[target.name], now=now, fingerprint=False, target=where)
            outcome.server_version = outcome.plan.server_version
    return outcome


def plan_fleet(fleet: Fleet, targets: list[FleetTarget], now: datetime | None = None,
               progress: Progress | None = None, command: str = "plan") -> FleetRun:
    """Plan every target, ``parallel`` at a time."""
    with ThreadPoolExecutor(max_workers=min(fleet.spec.parallel, max(1, len(targets)))) as pool:
        outcomes = list(pool.map(lambda t: _plan_one(fleet, t, now, progress), targets))
    return FleetRun(command, outcomes)


@dataclass(frozen=True)
class FleetApply:
    """What the command line says about every target's apply (each spec says the rest)."""

    allow_hazards: frozenset[str] = frozenset()
    restart: bool = False
    lock_timeout_ms: int | None = None
    lock_wait_ms: int | None = None


def _apply_one(fleet: Fleet, target: FleetTarget, how: FleetApply, now: datetime | None,
               progress: Progress | None) -> TargetOutcome:
    outcome = TargetOutcome(target.name, target.wave)
    with _recorded(outcome, progress):
        if progress:
            progress(target.name, "applying")
        spec = fleet.specs[target.name]
        options = options_for(spec.target, how.allow_hazards, how.restart, how.lock_timeout_ms, how.lock_wait_ms)
        result = run_apply(target_of(fleet, target), spec, None, options, SilentReporter(), now=now)
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
        with ThreadPoolExecutor(max_workers=min(fleet.spec.parallel, len(members))) as pool:
            for outcome in pool.map(lambda t: _apply_one(fleet, t, how, now, progress), members):
                by_name[outcome.name] = outcome
        if any(by_name[t.name].error for t in members) and not continue_on_error:
            stopped = True
    run.outcomes = [by_name[t.name] for t in targets if t.name in by_name]
    return run
