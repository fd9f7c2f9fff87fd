"""A target: the database a command works on, and — for a Patroni cluster — the cluster's REST API.

Without Patroni a target is a DSN (a libpq multi-host DSN with ``target_session_attrs`` too).
With Patroni, ``apply`` sends DDL to the leader it finds in ``GET /cluster`` and settings
through ``PATCH /config``; ``plan`` and ``check`` may connect to any member (a hot standby
included: they only read).
"""

from __future__ import annotations

import contextlib
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
from pydantic import SecretStr

from reconciler.base.errors import ConnectionFailed, PgreconError
from reconciler.base.kinds import SpecPath
from reconciler.connect.patroni import PatroniClient, PatroniCluster, PatroniMember, member_dsn
from reconciler.connect.session import READS, SessionPolicy, check_dsn, connect, describe_dsn
from reconciler.spec.target import PatroniSpec, Targeted, check_url


@dataclass
class Target:
    """Where a command goes: ``dsn``, and ``patroni`` when the database is a Patroni cluster."""

    dsn: str
    patroni: PatroniClient | None = None
    name: str = ""
    policy: SessionPolicy = READS   # how every session on it is set up (search_path, read timeouts)
    opened: list[psycopg.Connection] = field(default_factory=list, repr=False, compare=False)

    @property
    def label(self) -> str:
        """How messages name the target (never with a password)."""
        return self.name or describe_dsn(self.dsn)

    def cluster(self) -> PatroniCluster | None:
        return self.patroni.cluster() if self.patroni is not None else None

    def leader(self) -> PatroniMember:
        """The cluster's running leader (Patroni targets only)."""
        cluster = self.cluster()
        leader = cluster.leader if cluster is not None else None
        if leader is None:
            raise ConnectionFailed(f"the Patroni cluster at {self.patroni.url if self.patroni else '?'} has no "
                                   f"running leader right now (a failover in progress?); try again")
        return leader

    def leader_dsn(self) -> str:
        """The DSN to run DDL on: the leader's with Patroni, the target's DSN otherwise."""
        return member_dsn(self.dsn, self.leader()) if self.patroni is not None else self.dsn

    def member_dsn(self, member: PatroniMember) -> str:
        return member_dsn(self.dsn, member)

    def session(self, dsn: str | None = None) -> psycopg.Connection:
        """A pgrecon session on ``dsn`` (default: the target's DSN), set up by :attr:`policy`."""
        return self._opened(connect(self.dsn if dsn is None else dsn, policy=self.policy))

    def member_session(self, member: PatroniMember) -> psycopg.Connection:
        """A pgrecon session on one member of the cluster."""
        return self._opened(connect(self.member_dsn(member), policy=self.policy, what=f"member {member.name}"))

    def _opened(self, conn: psycopg.Connection) -> psycopg.Connection:
        self.opened[:] = [c for c in self.opened if not c.closed]
        self.opened.append(conn)
        return conn

    def cancel(self) -> None:
        """Cancel whatever the target's open sessions are running (from another thread: a fleet
        whose target ran out of time)."""
        for conn in list(self.opened):
            with contextlib.suppress(Exception):  # a session that is gone, or a server that does not answer
                if not conn.closed:
                    conn.cancel_safe(timeout=5)


Expand = Callable[[SpecPath, SecretStr], str]


def dsn_hosts(dsn: str) -> frozenset[str]:
    """The hosts (and host addresses) a libpq DSN names; empty when it names none or does not parse."""
    try:
        parts = check_dsn(dsn) if dsn else {}
    except ConnectionFailed:
        return frozenset()
    names = f"{parts.get('host') or ''},{parts.get('hostaddr') or ''}"
    return frozenset(h.strip() for h in names.split(",") if h.strip() and not h.strip().startswith("/"))


def _allowed_hosts(url: str, dsn: str, extra: list[str] | tuple[str, ...] = ()) -> frozenset[str]:
    """Where a cluster's members may live: the REST URL's host, the DSN's hosts, and ``extra``."""
    host = urllib.parse.urlsplit(url).hostname
    return frozenset({*(h for h in [host] if h), *dsn_hosts(dsn), *extra})


def patroni_client(patroni: PatroniSpec, expand: Expand, path: SpecPath = ("target", "patroni"),
                   dsn: str = "") -> PatroniClient:
    """A client for ``patroni``, its secrets expanded by ``expand`` (the spec's or the fleet
    file's: a missing variable is an error located in that file); its members must live on the
    URL's host, the DSN's hosts or ``patroni.hosts``."""
    username = expand((*path, "username"), patroni.username) if patroni.username else None
    password = expand((*path, "password"), patroni.password) if patroni.password else None
    return PatroniClient(patroni.url, username, password, patroni.verify, patroni.cacert,
                         _allowed_hosts(patroni.url, dsn, patroni.hosts))


def target_for(spec: Targeted | None, dsn: str, patroni_url: str | None = None, name: str = "",
               read_only: bool = False) -> Target:
    """The target of a command: ``dsn``, with the spec's ``target.patroni`` (or ``patroni_url``),
    its sessions set up as the spec's ``target`` says (read-only too when ``read_only``)."""
    policy = session_policy(spec, read_only)
    if patroni_url:
        try:
            url = check_url(patroni_url)
        except ValueError as exc:
            raise PgreconError(f"--patroni: {exc}") from None
        return Target(dsn, PatroniClient(url, allowed_hosts=_allowed_hosts(url, dsn)), name, policy)
    if spec is not None and spec.target.patroni is not None:
        return Target(dsn, patroni_client(spec.target.patroni, spec.secret, dsn=dsn), name, policy)
    return Target(dsn, None, name, policy)


def session_policy(spec: Targeted | None, read_only: bool = False) -> SessionPolicy:
    """How pgrecon's sessions on ``spec``'s target are set up: its search_path and read timeouts
    (``target:``); read-only when ``read_only`` or ``target.read_only`` (plan and check)."""
    if spec is None:
        return SessionPolicy(read_only=read_only)
    t = spec.target
    return SessionPolicy(statement_timeout_ms=t.read_statement_timeout, lock_timeout_ms=t.read_lock_timeout,
                         read_only=read_only or t.read_only, search_path=tuple(t.search_path))


__all__ = ["Target", "patroni_client", "session_policy", "target_for"]
