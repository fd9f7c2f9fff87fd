"""``target:``: where a spec's database is and how pgrecon reaches it and bounds its work (the DSN,
a Patroni cluster's REST API, timeouts, its sessions' search_path and read-only mode)."""

from __future__ import annotations

import urllib.parse
from typing import Protocol

from pydantic import Field, SecretStr, field_validator, model_validator

from reconciler.base.kinds import SpecPath
from reconciler.spec.types import DurationMs, EnvSecret, Identifier, StrictModel


def check_url(url: str, credentials: bool = False, allow_insecure: bool = False) -> str:
    """``url`` as a Patroni REST API base, or ``ValueError``: http(s) only, no ``user:pass@`` in it
    (credentials go in ``username``/``password``, from ``${ENV}``), and credentials over plain
    http only with ``allow_insecure``."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(ch.isspace() for ch in url):
        raise ValueError("not an http(s) URL (e.g. http://10.0.0.1:8008)")
    if "@" in parts.netloc:
        raise ValueError("credentials in the URL are not allowed (they would be printed and logged): give "
                         "target.patroni.username and password, from ${ENV}")
    if parts.query or parts.fragment:
        raise ValueError("a Patroni URL has no query or fragment")
    if credentials and parts.scheme == "http" and not allow_insecure:
        raise ValueError("credentials over plain http are sent readable to anyone on the way: use https, or set "
                         "allow_insecure: true")
    return url.rstrip("/")


class PatroniSpec(StrictModel):
    """The REST API of the Patroni cluster the target belongs to (any member's URL)."""

    url: str = Field(description="e.g. http://10.0.0.1:8008 (no credentials in it)")
    username: EnvSecret | None = Field(None, description="REST API basic auth; ${ENV} is expanded; never printed")
    password: EnvSecret | None = None
    verify: bool = Field(True, description="check the server's TLS certificate (https)")
    cacert: str | None = Field(None, description="CA bundle for the server's TLS certificate")
    allow_insecure: bool = Field(False, description="allow username/password over plain http")
    hosts: list[str] = Field(default_factory=list, description=(
        "hosts the cluster's members may live on besides the URL's and the DSN's: pgrecon connects to (and "
        "restarts) only members on these"))

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        try:
            return check_url(value)
        except ValueError as exc:
            raise ValueError(f"{exc}: {value.split('@')[-1]!r}") from None

    @model_validator(mode="after")
    def _credentials_need_tls(self) -> PatroniSpec:
        if self.username is not None or self.password is not None:
            check_url(self.url, credentials=True, allow_insecure=self.allow_insecure)
        return self


class TargetSpec(StrictModel):
    """Where and how to connect and run DDL."""

    dsn: EnvSecret | None = Field(None, description="libpq DSN; ${ENV} is expanded; never printed")
    patroni: PatroniSpec | None = Field(None, description="the target is a Patroni cluster: settings go through "
                                                          "Patroni, DDL to its leader")
    lock_timeout: DurationMs = Field(5000, description="lock_timeout for each DDL statement")
    lock_retries: int = Field(5, ge=0, le=100, description="retries after a lock timeout, with backoff")
    statement_timeout: DurationMs = Field(60_000, description="statement_timeout for quick DDL")
    build_timeout: DurationMs = Field(0, description="statement_timeout for index builds (0: none)")
    lock_wait: DurationMs = Field(60_000, description="how long apply waits for another apply")
    replica_timeout: DurationMs = Field(60_000, description="how long apply waits for replicas to replay its DDL")
    settings_timeout: DurationMs = Field(60_000, description="how long apply waits for every member of a Patroni "
                                                             "cluster to apply new settings (or a restart)")
    read_only: bool = Field(False, description="plan and check run in read-only transactions: no canonical-form DDL "
                                               "on temporary tables, no cache writes (apply is not affected)")
    read_statement_timeout: DurationMs = Field(120_000, description="statement_timeout of every read of plan, check, "
                                                                    "inspect and advise (0: none)")
    read_lock_timeout: DurationMs = Field(10_000, description="lock_timeout of those reads (0: none)")
    schema_owner: Identifier | None = Field(None, description=(
        "the role that owns the pgrecon schema (apply history, canonical-form cache), when it is not the "
        "connecting role; pgrecon refuses a schema anyone else owns or may write"))
    search_path: list[Identifier] = Field(["$user", "public"], min_length=1, description=(
        "the schemas pgrecon's sessions search, after pg_catalog and before pg_temp (the role's and database's "
        "defaults are not used)"))


class Targeted(Protocol):
    """What connecting needs of a spec: its ``target`` section and its secrets' expansion (the
    spec assembled from the kinds' parts is one; the connect layer needs no more of it)."""

    @property
    def target(self) -> TargetSpec: ...

    def secret(self, path: SpecPath, value: SecretStr) -> str: ...
