"""``pgbouncer:``: the connection pool in front of the database, rendered to pgbouncer.ini."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from reconciler.base.kinds import SpecProblem
from reconciler.facts.pgbouncer import check_setting
from reconciler.spec.types import EnvSecret, ScalarText, StrictModel

_SAFE = re.compile(r"^[^\x00-\x1f\x7f]*$")
_DB_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
_USER = re.compile(r'^[^"\x00-\x1f\x7f]+$')
_KEY = re.compile(r"^[a-z_][a-z0-9_]*$")
RESERVED_KEYS = {"listen_addr", "listen_port", "auth_type", "auth_file", "admin_users", "stats_users"}


def _safe_text(value: str, what: str) -> str:
    if not _SAFE.match(value):
        raise ValueError(f"{what} contains a line break or control character")
    return value


class PgbouncerDatabase(StrictModel):
    """One ``[databases]`` entry: where the pool connects, and its own pool limits."""

    host: str | None = None
    port: int | None = Field(None, ge=1, le=65535)
    dbname: str | None = None
    user: str | None = None
    auth_user: str | None = None
    pool_size: int | None = Field(None, ge=0)
    min_pool_size: int | None = Field(None, ge=0)
    reserve_pool: int | None = Field(None, ge=0)
    max_db_connections: int | None = Field(None, ge=0)
    pool_mode: Literal["session", "transaction", "statement"] | None = None
    connect_query: str | None = None
    client_encoding: str | None = None
    datestyle: str | None = None
    timezone: str | None = None

    @field_validator("host", "dbname", "user", "auth_user", "connect_query", "client_encoding", "datestyle",
                     "timezone")
    @classmethod
    def _connection_value(cls, value: str | None) -> str | None:
        if value is None:
            return None
        _safe_text(value, "value")
        if "'" in value or "\\" in value:
            raise ValueError("quotes and backslashes are not allowed in a [databases] value")
        return value


class PgbouncerUser(StrictModel):
    """A user of the pool; its password (from ``${ENV}``) is written to userlist.txt as a
    SCRAM-SHA-256 verifier, never in clear."""

    name: str
    password: EnvSecret | None = None
    pool_mode: Literal["session", "transaction", "statement"] | None = None
    max_user_connections: int | None = Field(None, ge=0)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _USER.match(value):
            raise ValueError('a user name cannot contain a double quote, a line break or a control character')
        return value


class PgbouncerSpec(StrictModel):
    """PgBouncer's configuration. ``settings`` holds any other ``[pgbouncer]`` setting."""

    listen_addr: str = "127.0.0.1"
    listen_port: int = Field(6432, ge=1, le=65535)
    auth_type: Literal["any", "trust", "plain", "md5", "scram-sha-256", "cert", "hba", "pam"] = "scram-sha-256"
    auth_file: str = "/etc/pgbouncer/userlist.txt"
    admin_users: list[str] = Field(default_factory=list)
    stats_users: list[str] = Field(default_factory=list)
    databases: dict[str, PgbouncerDatabase] = Field(default_factory=dict)
    users: list[PgbouncerUser] = Field(default_factory=list)
    settings: dict[str, ScalarText] = Field(default_factory=dict)
    headroom: int = Field(10, ge=0, description="server connections kept free for clients that bypass the pool")
    prepared_statements: bool = Field(False, description="the application uses protocol-level prepared statements")
    version: str | None = Field(None, description="PgBouncer release to check settings against, e.g. '1.18'")
    admin_dsn: EnvSecret | None = Field(None, description="admin console of a running PgBouncer (plan/apply)")
    config_file: str | None = Field(None, description="where apply writes pgbouncer.ini for that PgBouncer")

    @field_validator("listen_addr", "auth_file", "config_file")
    @classmethod
    def _no_control(cls, value: str | None) -> str | None:
        return _safe_text(value, "value") if value is not None else None

    @field_validator("admin_users", "stats_users")
    @classmethod
    def _user_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not re.match(r"^[A-Za-z0-9_][A-Za-z0-9_.\-@]*$", name):
                raise ValueError(f"{name!r} is not a plain user name")
        return value

    @field_validator("databases")
    @classmethod
    def _db_names(cls, value: dict[str, PgbouncerDatabase]) -> dict[str, PgbouncerDatabase]:
        for name in value:
            if not _DB_NAME.match(name):
                raise ValueError(f"{name!r} is not a database name PgBouncer accepts here (letters, digits, _ . -)")
        return value

    def problems(self) -> list[SpecProblem]:
        """Settings PgBouncer would refuse: ``(path below pgbouncer, message)`` pairs."""
        out: list[SpecProblem] = []
        for key, text in self.settings.items():
            path = ("settings", key)
            if not _KEY.match(key):
                out.append((path, f"{key!r} is not a setting name"))
            elif key in RESERVED_KEYS:
                out.append((path, f"{key} is set by pgbouncer.{key}, not in settings"))
            elif not _SAFE.match(text):
                out.append((path, f"the value of {key} contains a line break or control character"))
            else:
                try:
                    check_setting(key, text)
                except ValueError as exc:
                    out.append((path, str(exc)))
        return out

    @model_validator(mode="after")
    def _unique_users(self) -> PgbouncerSpec:
        names = [u.name for u in self.users]
        if len(names) != len(set(names)):
            raise ValueError("a user is listed twice")
        return self


class PgbouncerPart(StrictModel):
    """``pgbouncer:``: the pool in front of the database."""

    pgbouncer: PgbouncerSpec | None = None
