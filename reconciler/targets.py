"""A target: the database a command works on, and — for a Patroni cluster — the cluster's REST API.

Without Patroni a target is a DSN (a libpq multi-host DSN with ``target_session_attrs`` too).
With Patroni, ``apply`` sends DDL to the leader it finds in ``GET /cluster`` and settings
through ``PATCH /config``; ``plan`` and ``check`` may connect to any member (a hot standby
included: they only read).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import SecretStr

from .connection import describe_dsn
from .errors import ConnectionFailed
from .kinds import SpecPath
from .patroni import PatroniClient, PatroniCluster, PatroniMember, member_dsn
from .spec.models import PatroniSpec, Spec


@dataclass
class Target:
    """Where a command goes: ``dsn``, and ``patroni`` when the database is a Patroni cluster."""

    dsn: str
    patroni: PatroniClient | None = None
    name: str = ""

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


Expand = Callable[[SpecPath, SecretStr], str]


def patroni_client(patroni: PatroniSpec, expand: Expand, path: SpecPath = ("target", "patroni")) -> PatroniClient:
    """A client for ``patroni``, its secrets expanded by ``expand`` (the spec's or the fleet
    file's: a missing variable is an error located in that file)."""
    username = expand((*path, "username"), patroni.username) if patroni.username else None
    password = expand((*path, "password"), patroni.password) if patroni.password else None
    return PatroniClient(patroni.url, username, password, patroni.verify, patroni.cacert)


def target_for(spec: Spec | None, dsn: str, patroni_url: str | None = None, name: str = "") -> Target:
    """The target of a command: ``dsn``, with the spec's ``target.patroni`` (or ``patroni_url``)."""
    if patroni_url:
        return Target(dsn, PatroniClient(patroni_url.rstrip("/")), name)
    if spec is not None and spec.target.patroni is not None:
        return Target(dsn, patroni_client(spec.target.patroni, spec.secret), name)
    return Target(dsn, None, name)

