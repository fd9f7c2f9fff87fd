"""The apply stage: lock, re-plan (or check a saved plan), refuse hazards, execute, verify.

>>> result = run_apply(dsn, spec, options=ApplyOptions(allow_hazards=frozenset({"index-drop"})))  # doctest: +SKIP
>>> result.in_sync                                                                                 # doctest: +SKIP
True
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import psycopg

from reconciler.base.errors import ApplyFailed, ConnectionFailed, Refused, SpecError
from reconciler.base.kinds import ChangeKind
from reconciler.connect.session import connect, describe_dsn, fetch_value, time_own_statements
from reconciler.connect.targets import Target
from reconciler.engine.apply.baseline import advised_baselines
from reconciler.engine.apply.cluster import ClusterOps, LeaderPosition, following
from reconciler.engine.apply.executor import (
    ApplyOptions,
    ApplyReporter,
    ChangeResult,
    Executor,
    SilentReporter,
    options_for,
)
from reconciler.engine.apply.history import History
from reconciler.engine.apply.locking import acquire_apply_lock, release_apply_lock
from reconciler.engine.apply.saved import check_saved
from reconciler.engine.planner import make_plan
from reconciler.plan.models import HAZARD_HELP, Change, Hazard, Plan
from reconciler.resources.document import Spec

__all__ = ["ApplyOptions", "ApplyReporter", "ApplyResult", "SilentReporter", "check_hazards", "options_for",
           "run_apply"]


@dataclass
class ApplyResult:
    plan: Plan
    results: list[ChangeResult]
    remaining: Plan
    waited_s: float
    restarted: list[str] = field(default_factory=list)  # members restarted through Patroni
    unverified: list[str] = field(default_factory=list)  # replicas down when apply checked them: "name (state)"
    refused: list[Change] = field(default_factory=list)  # --skip-refused: left out (hazards, or needing those)

    @property
    def in_sync_but_refused(self) -> bool:
        """Everything still different is what was refused (``--skip-refused``)."""
        titles = {c.title for c in self.refused}
        return bool(self.refused) and all(c.title in titles for c in self.remaining.changes)

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


def verify(dsn: str, spec: Spec, now: datetime | None, target: Target | None = None,
           settle_s: float = 3.0) -> Plan:
    """Re-plan on a fresh connection (a new session sees reloaded settings). A configuration
    reload reaches sessions asynchronously, so setting changes are re-checked for a moment. The
    canonical forms the server computes now (the extensions apply created are there) are kept,
    so a read-only plan (a hot standby's) finds them."""
    deadline = time.monotonic() + settle_s
    while True:
        with (target.session(dsn) if target is not None else connect(dsn)) as conn:
            remaining = make_plan(conn, spec, now=now, fingerprint=False, target=target, remember_forms=True)
        if remaining.empty or time.monotonic() >= deadline or any(c.kind != "setting" for c in remaining.changes):
            return remaining
        time.sleep(0.2)


# Patroni member states in which PostgreSQL runs and can be asked (a replica restoring from the
# archive instead of streaming still replays).
VERIFIABLE_STATES = frozenset({"running", "streaming", "in archive recovery"})


def verify_replicas(cluster: ClusterOps, spec: Spec, now: datetime | None, leader: LeaderPosition) -> list[str]:
    """On each replica of a Patroni cluster (read-only), once it has replayed the leader's WAL up to
    where ``leader`` stood: every declared index is there, valid, with the declared definition.
    A member whose PostgreSQL Patroni reports down (stopped, starting, being rebuilt, …) can't be
    checked; it replays the changes when it runs again. Returns those, as "name (state)"."""
    target = cluster.target
    unverified: list[str] = []
    for member in cluster.replicas():
        if member.state not in VERIFIABLE_STATES:
            unverified.append(f"{member.name} ({member.state})")
            continue
        try:
            with target.member_session(member) as conn:
                cluster.wait_for_member(member, conn, leader)
                drift = make_plan(conn, spec, now=now, fingerprint=False, kinds=frozenset({ChangeKind.INDEX}))
                state = "" if drift.empty else following(conn, leader)
        except (ConnectionFailed, SpecError) as exc:
            raise ApplyFailed(f"could not verify the indexes on replica {member.name}: {exc.message}") from None
        if not drift.empty:
            shown = "; ".join(f"{c.title}: {c.reason}" for c in drift.changes)
            raise ApplyFailed(f"replica {member.name} does not have the declared indexes after replaying: {shown} "
                              f"({state})")
    return unverified


def _ran_ddl(results: list[ChangeResult]) -> bool:
    return any(s.target == "database" for r in results for s in r.change.statements)


def run_apply(target: Target | str, spec: Spec, saved: Plan | None = None, options: ApplyOptions = ApplyOptions(),
              reporter: ApplyReporter | None = None, now: datetime | None = None,
              on_plan: Callable[[Plan], None] | None = None) -> ApplyResult:
    """Apply ``spec`` to ``target`` and verify; with ``saved``, only if the plan made now runs
    exactly what it says (see :mod:`.saved`).

    DDL goes to the primary: the leader of a Patroni cluster, else the DSN, which must not reach
    a standby. The plan is computed (or the saved one checked against the live state) only after
    the apply lock is held, so concurrent applies never race. ``on_plan(plan)`` is called with
    the plan about to run. After DDL, apply waits until every streaming replica has replayed it
    (and, on a Patroni cluster, verifies the indexes there). Raises :class:`Refused` or
    :class:`ApplyFailed`.
    """
    target = Target(target) if isinstance(target, str) else target
    # apply writes whatever the target's read_only says (that is for plan and check)
    target = dataclasses.replace(target, policy=dataclasses.replace(target.policy, read_only=False))
    reporter = reporter or SilentReporter()
    if options.restart and target.patroni is None:
        raise Refused("--restart restarts servers through Patroni only; this target names no Patroni REST API "
                      "(target.patroni.url). Restart the server yourself.")
    dsn = target.leader_dsn()
    cluster = ClusterOps(target, options.settings_timeout_ms, options.replica_timeout_ms,
                         on_wait=getattr(reporter, "waiting", None))
    with target.session(dsn) as conn, target.session(dsn) as monitor_conn:
        time_own_statements(monitor_conn)
        _refuse_a_standby(conn, dsn)
        waited = acquire_apply_lock(conn, options.lock_wait_ms)
        try:
            plan, refused = _plan_to_run(conn, spec, saved, options, now, target)
            if on_plan:
                on_plan(plan)
            history = _history(conn, plan, spec, options)
            executor = Executor(conn, monitor_conn, options, reporter, pgbouncer_dsn=_pgbouncer_dsn(spec),
                                cluster=cluster)
            results, unverified = _execute(executor, plan, history, cluster, spec, now)
            if history is not None:
                done = {id(r.change) for r in results}
                history.add_baselines(advised_baselines(conn, spec, [c if id(c) in done else None
                                                                     for c in plan.changes]))
            remaining = verify(dsn, spec, now or plan.now, target)
            if history is not None:
                history.finish("succeeded" if remaining.empty else "not in sync")
        finally:
            if not conn.broken:
                release_apply_lock(conn)
    # Restarts come last, with the apply's sessions closed: restarting the leader ends them.
    restarted = cluster.restart_pending() if options.restart else []
    return ApplyResult(plan=plan, results=results, remaining=remaining, waited_s=waited, restarted=restarted,
                       refused=refused, unverified=unverified)


def _refuse_a_standby(conn: psycopg.Connection, dsn: str) -> None:
    if fetch_value(conn, "SELECT pg_catalog.pg_is_in_recovery()"):
        raise Refused(f"{describe_dsn(dsn)} is a standby (in recovery): apply changes the primary only. Point "
                      f"--dsn at the primary, use a multi-host DSN with target_session_attrs=read-write, or name "
                      f"the cluster's Patroni REST API (target.patroni.url)")


def _plan_to_run(conn: psycopg.Connection, spec: Spec, saved: Plan | None, options: ApplyOptions,
                 now: datetime | None, target: Target) -> tuple[Plan, list[Change]]:
    """The plan made now (a saved one only has to equal it), without what ``--skip-refused``
    leaves out; refuses hazards that were not allowed. Returns it and what was left out."""
    plan = make_plan(conn, spec, now=now, fingerprint=saved is not None, remember_forms=True, target=target)
    if saved is not None:
        check_saved(saved, plan)
    refused: list[Change] = []
    if options.skip_refused:
        plan, refused = plan.without(plan.disallowed(set(options.allow_hazards)))
    check_hazards(plan, options.allow_hazards)
    return plan, refused


def _pgbouncer_dsn(spec: Spec) -> str | None:
    if spec.pgbouncer is not None and spec.pgbouncer.admin_dsn is not None:
        return spec.secret(("pgbouncer", "admin_dsn"), spec.pgbouncer.admin_dsn)
    return None


def _history(conn: psycopg.Connection, plan: Plan, spec: Spec, options: ApplyOptions) -> History | None:
    """The row of this apply in ``pgrecon.history`` (a courtesy: none without changes, or without
    the privilege to create it)."""
    if not plan.changes or not options.record_history:
        return None
    try:
        return History(conn, plan, spec.target.schema_owner)
    except psycopg.errors.InsufficientPrivilege:
        return None


def _execute(executor: Executor, plan: Plan, history: History | None, cluster: ClusterOps, spec: Spec,
             now: datetime | None) -> tuple[list[ChangeResult], list[str]]:
    """Run the plan; after DDL, wait for the replicas to replay it (and, on a Patroni cluster,
    verify the indexes there). Returns the results and the replicas that could not be checked."""
    try:
        results = executor.run(plan, history)
        unverified: list[str] = []
        if _ran_ddl(results):
            position = cluster.wait_for_replicas(executor.conn)
            if cluster.target.patroni is not None:
                unverified = verify_replicas(cluster, spec, now or plan.now, position)
    except ApplyFailed as exc:
        if history is not None:
            history.finish("failed", exc.message)
        raise
    return results, unverified
