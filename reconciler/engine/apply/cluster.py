"""What apply does on an HA cluster besides DDL on the leader: settings through Patroni (and the
wait until every member runs them), ALTER SYSTEM resets on one member, restarts through Patroni
(replicas first, the leader last, one at a time), and the wait until every streaming replica has
replayed the apply's DDL.

Replicas are found from the primary's ``pg_stat_replication``, so the wait works with or without
Patroni; with Patroni each replica is also connected to, to verify the indexes there.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg.rows import dict_row

from reconciler.base.errors import ApplyFailed, ConnectionFailed
from reconciler.connect.patroni import PatroniCluster, PatroniMember
from reconciler.connect.session import fetch_value
from reconciler.connect.targets import Target
from reconciler.facts.settings import SettingDef, SettingValueError, normalize

POLL_S = 0.5

# The leader's flush position and its timeline (the first 8 hex digits of a WAL file's name).
_LEADER_POSITION = ("SELECT pg_catalog.pg_current_wal_flush_lsn()::text, ('x' || pg_catalog.substr("
                    "pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_flush_lsn()), 1, 8))::bit(32)::int")
# How a standby follows its primary: its WAL receiver (if any) and whether replay is paused.
_FOLLOWING = ("SELECT pg_catalog.pg_is_in_recovery(), r.pid, r.status, r.received_tli, CASE WHEN "
              "pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_get_wal_replay_pause_state() END "
              "FROM (SELECT 1) AS one LEFT JOIN pg_catalog.pg_stat_wal_receiver AS r ON true")


@dataclass(frozen=True)
class LeaderPosition:
    """Where the leader's WAL stood when the apply's DDL was done: what replicas must replay."""

    lsn: str
    timeline: int


def following(conn: psycopg.Connection, leader: LeaderPosition) -> str:
    """In words, how the standby on ``conn`` follows the leader — said when it falls behind or
    differs, so the message points at replication rather than at the index."""
    standby, pid, status, timeline, paused = conn.execute(_FOLLOWING).fetchone() or (True, None, None, None, None)
    if not standby:
        return "it is not a standby any more (promoted?)"
    if pid is None:
        said = "no WAL receiver runs there: it is not streaming from the leader"
    elif status is None:
        said = "its WAL receiver runs (its state is shown to pg_read_all_stats members only)"
    else:
        said = f"its WAL receiver is {status}" + (f" on timeline {timeline}" if timeline else "")
        if timeline and timeline != leader.timeline:
            said += (f", the leader is on timeline {leader.timeline}: it has not followed the last failover and "
                     f"may hold WAL the leader never had (reinitialize it: patronictl reinit)")
    if paused and paused != "not paused":
        said += f"; WAL replay is {paused} (SELECT pg_wal_replay_resume() there resumes it)"
    return said


def _same(row: dict[str, object], text: str) -> bool:
    defn = SettingDef.from_row(row)
    try:
        return bool(normalize(defn, str(row["setting"])) == normalize(defn, text))
    except SettingValueError:
        return str(row["setting"]) == text


@dataclass
class ClusterOps:
    """Cluster-side steps of an apply on ``target`` (the waits give up after ``timeout_ms``)."""

    target: Target
    settings_timeout_ms: int = 60_000
    replica_timeout_ms: int = 60_000
    sleep: Callable[[float], None] = time.sleep
    on_wait: Callable[[str], None] | None = None

    def _patroni(self) -> PatroniCluster:
        if self.target.patroni is None:
            raise ApplyFailed("this change goes through Patroni, but the target names no Patroni REST API "
                              "(target.patroni.url)")
        return self.target.patroni.cluster()

    def patch(self, patch: dict[str, object]) -> None:
        """PATCH /config."""
        self._patroni()
        assert self.target.patroni is not None
        try:
            self.target.patroni.patch_config(patch)
        except ConnectionFailed as exc:
            raise ApplyFailed(f"Patroni refused the configuration change: {exc.message}") from None

    def wait_for_settings(self, expect: dict[str, str]) -> None:
        """Wait until every member runs the ``expect``-ed values, or marks a restart as pending for
        those that need one; fail naming the members that did not, after the timeout."""
        deadline = time.monotonic() + self.settings_timeout_ms / 1000
        while True:
            cluster = self._patroni()
            lagging = {m.name: self._lagging(m, expect) for m in cluster.members}
            lagging = {name: names for name, names in lagging.items() if names}
            if not lagging:
                return
            if time.monotonic() >= deadline:
                shown = "; ".join(f"{name}: {', '.join(names)}" for name, names in sorted(lagging.items()))
                raise ApplyFailed(f"Patroni did not apply the new settings on every member within "
                                  f"{self.settings_timeout_ms / 1000:g}s: {shown}")
            self.sleep(POLL_S)

    def _lagging(self, member: PatroniMember, expect: dict[str, str]) -> list[str]:
        try:
            with self.target.member_session(member) as conn, \
                    conn.cursor(row_factory=dict_row) as cur:
                cur.execute("SELECT name, CASE WHEN source = 'session' THEN reset_val ELSE setting END AS setting, "
                            "unit, vartype, min_val, max_val, enumvals, context, boot_val, "
                            "pending_restart FROM pg_catalog.pg_settings WHERE lower(name) = ANY(%s)",
                            ([n.lower() for n in expect],))
                rows = {r["name"].lower(): r for r in cur.fetchall()}
        except (ConnectionFailed, psycopg.Error):
            return ["(not reachable)"]
        out = []
        for name, text in expect.items():
            row = rows.get(name.lower())
            if row is None:
                continue
            if _same(row, text) or (row["context"] == "postmaster" and row["pending_restart"]):
                continue
            out.append(name)
        return out

    def run_on_member(self, member_name: str, sql: str) -> None:
        """Run ``sql`` on one member (outside a transaction)."""
        member = self._patroni().member(member_name)
        if member is None:
            raise ApplyFailed(f"member {member_name} is not in the cluster any more")
        try:
            with self.target.member_session(member) as conn:
                conn.execute(sql)
        except psycopg.Error as exc:
            raise ApplyFailed(f"on member {member_name}: {exc.diag.message_primary or exc}\nStatement: {sql}") from None

    def restart_pending(self) -> list[str]:
        """Restart, through Patroni, every member waiting for a restart: replicas first, the
        leader last, one at a time, each running again before the next. Returns their names."""
        cluster = self._patroni()
        pending = [m for m in cluster.members if m.pending_restart or self._waits_for_restart(m)]
        order = sorted(pending, key=lambda m: m.is_leader)
        done = []
        for member in order:
            if self.on_wait:
                self.on_wait(f"restarting {member.name} ({member.role}) through Patroni")
            assert self.target.patroni is not None
            try:
                self.target.patroni.restart(member)
            except ConnectionFailed as exc:
                raise ApplyFailed(f"Patroni refused to restart {member.name}: {exc.message}") from None
            self._wait_restarted(member.name)
            done.append(member.name)
        return done

    def _waits_for_restart(self, member: PatroniMember) -> bool:
        """Whether the member's server has settings waiting for a restart (Patroni's own flag
        follows within its loop_wait)."""
        try:
            with self.target.member_session(member) as conn:
                return bool(fetch_value(conn, "SELECT bool_or(pending_restart) FROM pg_catalog.pg_settings"))
        except (ConnectionFailed, psycopg.Error):
            return False

    def _wait_restarted(self, name: str) -> None:
        deadline = time.monotonic() + self.settings_timeout_ms / 1000
        while True:
            try:
                member = self._patroni().member(name)
            except ConnectionFailed:
                member = None
            if member is not None and member.running and not member.pending_restart \
                    and not self._waits_for_restart(member):
                return
            if time.monotonic() >= deadline:
                raise ApplyFailed(f"member {name} is not running again {self.settings_timeout_ms / 1000:g}s after "
                                  f"its restart; see Patroni's log")
            self.sleep(POLL_S)

    def wait_for_replicas(self, leader: psycopg.Connection) -> LeaderPosition:
        """Wait until every streaming replica has replayed what the leader has flushed so far (the
        executor's commits are flushed: see :class:`~reconciler.engine.apply.executor.Executor`); fail
        naming the ones that did not, after the timeout. Returns that WAL position."""
        lsn, timeline = leader.execute(_LEADER_POSITION).fetchone() or ("0/0", 0)
        position = LeaderPosition(lsn, timeline)
        deadline = time.monotonic() + self.replica_timeout_ms / 1000
        while True:
            rows = leader.execute(
                "SELECT application_name, client_addr::text, replay_lsn IS NOT NULL AND replay_lsn >= %s::pg_lsn "
                "FROM pg_catalog.pg_stat_replication WHERE state = 'streaming'", (lsn,)).fetchall()
            late = [(name, addr) for name, addr, caught_up in rows if not caught_up]
            behind = [f"{name or '?'} ({addr or 'local'})" for name, addr in late]
            if not behind:
                return position
            if time.monotonic() >= deadline:
                said = "; ".join(f"{name or '?'} ({addr or 'local'}){self._why_behind(name, position)}"
                                 for name, addr in late)
                raise ApplyFailed(f"replicas did not replay the apply's changes (WAL {lsn}) within "
                                  f"{self.replica_timeout_ms / 1000:g}s: {said}")
            if self.on_wait:
                self.on_wait(f"waiting for {', '.join(behind)} to replay WAL {lsn}")
            self.sleep(POLL_S)

    def _why_behind(self, name: str | None, leader: LeaderPosition) -> str:
        """On a Patroni cluster, what the late member itself says (Patroni names each walsender
        after its member); elsewhere the leader's view is all there is."""
        if self.target.patroni is None or not name:
            return ""
        try:
            member = next((m for m in self.replicas() if m.name == name), None)
            if member is None:
                return ""
            with self.target.member_session(member) as conn:
                return f": {following(conn, leader)}"
        except (ConnectionFailed, psycopg.Error):
            return ""  # a courtesy: the message stands without it

    def wait_for_member(self, member: PatroniMember, conn: psycopg.Connection, leader: LeaderPosition) -> None:
        """Wait until ``member`` (connected as ``conn``) has replayed the leader's WAL up to where
        ``leader`` stood. A member that has just rejoined may not be streaming yet, so the
        leader's view is not enough."""
        deadline = time.monotonic() + self.replica_timeout_ms / 1000
        while not fetch_value(conn, "SELECT coalesce(pg_catalog.pg_last_wal_replay_lsn() >= %s::pg_lsn, false)",
                              (leader.lsn,)):
            if time.monotonic() >= deadline:
                raise ApplyFailed(f"replica {member.name} did not replay the apply's changes (WAL {leader.lsn}) "
                                  f"within {self.replica_timeout_ms / 1000:g}s; {following(conn, leader)}")
            if self.on_wait:
                self.on_wait(f"waiting for {member.name} to replay WAL {leader.lsn}")
            self.sleep(POLL_S)

    def replicas(self) -> list[PatroniMember]:
        return list(self._patroni().replicas) if self.target.patroni is not None else []
