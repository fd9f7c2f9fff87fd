"""The apply stage: lock, re-plan (or check a saved plan), refuse hazards, execute, verify.

>>> result = run_apply(dsn, spec, options=ApplyOptions(allow_hazards=frozenset({"index-drop"})))  # doctest: +SKIP
>>> result.in_sync                                                                                 # doctest: +SKIP
True
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

import psycopg

from ..connection import connect
from ..errors import ApplyFailed, Refused
from ..plan.make import make_plan
from ..plan.models import HAZARD_HELP, Hazard, Plan
from ..spec.models import Spec
from .executor import ApplyOptions, ApplyReporter, ChangeResult, Executor, SilentReporter
from .history import History
from .locking import acquire_apply_lock, release_apply_lock

__all__ = ["ApplyOptions", "ApplyReporter", "ApplyResult", "SilentReporter", "check_hazards", "run_apply"]


@dataclass
class ApplyResult:
    plan: Plan
    results: list[ChangeResult]
    remaining: Plan
    waited_s: float

    @property
    def in_sync(self) -> bool:
        return self.remaining.empty


def check_hazards(plan: Plan, allowed: frozenset[str]) -> None:
    """Refuse (before anything runs) a plan with hazards that were not allowed."""
    blocked = plan.disallowed(set(allowed))
    if not blocked:
        return
    lines = ["the plan has hazards that were not allowed; nothing was applied:"]
    needed: set[str] = set()
    for change in blocked:
        missing = [h.value for h in change.hazards if h.value not in allowed]
        needed.update(missing)
        lines.append(f"  {change.title}: {', '.join(missing)}")
    for hazard in sorted(needed):
        lines.append(f"  {hazard}: {HAZARD_HELP[Hazard(hazard)]}")
    lines.append(f"Review the plan, then allow them with --allow-hazards {','.join(sorted(needed))}")
    raise Refused("\n".join(lines))


def verify(dsn: str, spec: Spec, now: datetime | None, settle_s: float = 3.0) -> Plan:
    """Re-plan on a fresh connection (a new session sees reloaded settings). A configuration
    reload reaches sessions asynchronously, so setting changes are re-checked for a moment."""
    deadline = time.monotonic() + settle_s
    while True:
        with connect(dsn) as conn:
            remaining = make_plan(conn, spec, now=now, fingerprint=False)
        if remaining.empty or time.monotonic() >= deadline or any(c.kind != "setting" for c in remaining.changes):
            return remaining
        time.sleep(0.2)


def run_apply(dsn: str, spec: Spec, saved: Plan | None = None, options: ApplyOptions = ApplyOptions(),
              reporter: ApplyReporter | None = None, now: datetime | None = None,
              on_plan=None) -> ApplyResult:
    """Apply ``spec`` (or exactly the ``saved`` plan) to the database at ``dsn`` and verify.

    The plan is computed (or the saved one checked against the live state) only after the apply
    lock is held, so concurrent applies never race. ``on_plan(plan)`` is called with the plan
    about to run. Raises :class:`Refused` or :class:`ApplyFailed`.
    """
    reporter = reporter or SilentReporter()
    with connect(dsn) as conn, connect(dsn) as monitor_conn:
        waited = acquire_apply_lock(conn, options.lock_wait_ms)
        try:
            fresh = make_plan(conn, spec, now=now, fingerprint=saved is not None, remember_forms=True)
            plan = fresh
            if saved is not None:
                if saved.spec_sha256 != fresh.spec_sha256:
                    raise Refused("the saved plan was made from another version of the spec; "
                                  "make a new plan with `pgrecon plan --out`")
                if saved.fingerprint != fresh.fingerprint:
                    raise Refused("the live database changed since the saved plan was made; nothing was "
                                  "applied. Make a new plan with `pgrecon plan --out` and review it")
                plan = saved
            check_hazards(plan, options.allow_hazards)
            if on_plan:
                on_plan(plan)
            pgbouncer_dsn = None
            if spec.pgbouncer is not None and spec.pgbouncer.admin_dsn is not None:
                pgbouncer_dsn = spec.secret(("pgbouncer", "admin_dsn"), spec.pgbouncer.admin_dsn)
            history = None
            if plan.changes and options.record_history:
                try:
                    history = History(conn, plan)
                except psycopg.errors.InsufficientPrivilege:
                    history = None  # recording is a courtesy: no privilege to create pgrecon.history
            try:
                executor = Executor(conn, monitor_conn, options, reporter, pgbouncer_dsn=pgbouncer_dsn)
                results = executor.run(plan, history)
            except ApplyFailed as exc:
                if history is not None:
                    history.finish("failed", exc.message)
                raise
            remaining = verify(dsn, spec, now or plan.now)
            if history is not None:
                history.finish("succeeded" if remaining.empty else "not in sync")
        finally:
            if not conn.broken:
                release_apply_lock(conn)
    return ApplyResult(plan=plan, results=results, remaining=remaining, waited_s=waited)
