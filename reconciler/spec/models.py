"""The spec's models: what a database should have, as declared in ``schema.yaml``.

Every model forbids unknown keys and is frozen. SQL text in the spec (index expressions, ``where``
predicates, the string shorthand of a column) is parsed and re-printed by :mod:`reconciler.base.sqltext`
while the spec loads, so a spec that loads holds no unparsed SQL.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, PrivateAttr, SecretStr, field_validator, model_validator

from reconciler.base import sqltext
from reconciler.base.errors import Problem, SpecError
from reconciler.base.kinds import SpecPath, SpecProblem
from reconciler.connect.patroni import check_url
from reconciler.settings.values import target_major
from reconciler.spec.operations import MaintenanceSpec, MonitoringSpec
from reconciler.spec.partitioning import PartitioningSpec
from reconciler.spec.pgbouncer import PgbouncerSpec
from reconciler.spec.postgres import PostgresSpec
from reconciler.spec.types import (
    DurationMs,
    EnvSecret,
    Identifier,
    ScalarText,
    StrictModel,
    _identifier,
    _sql_expression,
    expand_secret,
)

# --------------------------------------------------------------------------- indexes

BUILTIN_METHODS = ("btree", "hash", "gin", "gist", "brin", "spgist")
"""Access methods PostgreSQL always has; others (hnsw, ivfflat, bloom, rum, …) are checked
against the database's ``pg_am`` at plan time."""


def _column_from_text(value: Any) -> Any:
    """The string shorthand of an index column: SQL text, e.g. ``"last_active DESC NULLS LAST"``."""
    if not isinstance(value, str):
        return value
    try:
        elem = sqltext.index_element(value)
    except sqltext.SqlTextError as exc:
        raise ValueError(str(exc)) from None
    if elem.collation and len(elem.collation) > 1:
        raise ValueError("write the collation without a schema (it is looked up on the search_path)")
    out: dict[str, Any] = {}
    if elem.column is not None:
        out["column"] = elem.column
    else:
        out["expression"] = elem.expression
    if elem.opclass:
        out["opclass"] = ".".join(elem.opclass)
    if elem.opclass_params:
        out["opclass_params"] = dict(elem.opclass_params)
    if elem.collation:
        out["collation"] = elem.collation[0]
    if elem.descending is not None:
        out["order"] = "desc" if elem.descending else "asc"
    if elem.nulls_first is not None:
        out["nulls"] = "first" if elem.nulls_first else "last"
    return out


class IndexColumn(StrictModel):
    """One key of an index: a ``column`` (verbatim name) or an ``expression`` (SQL), with options.

    The string form ``"lower(name) DESC"`` is SQL text and is turned into this object.
    """

    column: Identifier | None = None
    expression: Annotated[str, _sql_expression("expression")] | None = None
    opclass: str | None = Field(None, description="operator class, e.g. gin_trgm_ops, jsonb_path_ops or "
                                                  "tsvector_ops(siglen=32)")
    opclass_params: dict[Identifier, ScalarText] = Field(
        default_factory=dict, description="operator class parameters, e.g. {siglen: 32}")
    collation: Identifier | None = Field(None, description='collation name, e.g. "C"')
    order: Literal["asc", "desc"] | None = None
    nulls: Literal["first", "last"] | None = None

    @model_validator(mode="before")
    @classmethod
    def _opclass_with_params(cls, data: Any) -> Any:
        """``opclass: "tsvector_ops(siglen=32)"`` is the name plus ``opclass_params``."""
        if isinstance(data, dict) and isinstance(data.get("opclass"), str) and "(" in data["opclass"]:
            try:
                elem = sqltext.index_element(f"pgrecon_key {data['opclass']}")
            except sqltext.SqlTextError:
                raise ValueError("opclass: write 'name' or 'name(param=value, …)'") from None
            if elem.column != "pgrecon_key" or not elem.opclass or elem.collation or \
                    elem.descending is not None or elem.nulls_first is not None:
                raise ValueError("opclass: write 'name' or 'name(param=value, …)'")
            params = dict(elem.opclass_params)
            if isinstance(data.get("opclass_params"), dict):
                params.update(data["opclass_params"])
            data = {**data, "opclass": ".".join(elem.opclass), "opclass_params": params}
        return data

    @model_validator(mode="after")
    def _one_of_column_or_expression(self) -> IndexColumn:
        if (self.column is None) == (self.expression is None):
            raise ValueError("give exactly one of 'column' or 'expression'")
        if self.opclass_params and not self.opclass:
            raise ValueError("opclass_params needs opclass (PostgreSQL takes parameters after an operator class)")
        for key in self.opclass_params:
            if not re.fullmatch(r"[a-z_][a-z0-9_]*", key):
                raise ValueError(f"operator class parameter {key!r} is not a parameter name")
        return self

    @field_validator("opclass")
    @classmethod
    def _opclass_name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = value.split(".")
        if len(parts) > 2 or not all(parts):
            raise ValueError("an operator class is 'name' or 'schema.name'")
        for part in parts:
            _identifier(part)
        return value

    @property
    def descending(self) -> bool:
        return self.order == "desc"

    @property
    def nulls_first(self) -> bool:
        """NULLS FIRST in effect (PostgreSQL's default: first for DESC, last for ASC)."""
        return self.nulls == "first" if self.nulls else self.descending


def _include_from_text(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return {"column": sqltext.column_name(value)}
        except sqltext.SqlTextError as exc:
            raise ValueError(str(exc)) from None
    return value


class IncludeColumn(StrictModel):
    """A non-key column carried in the index (``INCLUDE``); a string is SQL text (folds case)."""

    column: Identifier


class IndexSpec(StrictModel):
    """A declared index. Compared with live indexes by definition, never by name alone."""

    name: Identifier
    columns: list[Annotated[IndexColumn, BeforeValidator(_column_from_text)]] = Field(min_length=1)
    using: Identifier = Field("btree", description="access method: btree, hash, gin, gist, brin, spgist, or "
                                                     "any installed in the database (hnsw, ivfflat, bloom, rum, …)")
    unique: bool = False
    include: list[Annotated[IncludeColumn, BeforeValidator(_include_from_text)]] = Field(default_factory=list)
    where: Annotated[str, _sql_expression("where")] | None = None
    with_: dict[Identifier, ScalarText] = Field(default_factory=dict, alias="with",
                                                 description="storage parameters, e.g. {fillfactor: 90}")
    nulls_not_distinct: bool = False

    @model_validator(mode="after")
    def _method_rules(self) -> IndexSpec:
        """What PostgreSQL's built-in methods are known to refuse, said before any database is
        asked; another (extension) method's rules are the server's to check at plan time."""
        if self.nulls_not_distinct and not self.unique:
            raise ValueError("nulls_not_distinct applies to unique indexes only")
        if self.using in BUILTIN_METHODS:
            if self.unique and self.using != "btree":
                raise ValueError(f"unique indexes must use btree, not {self.using}")
            if self.include and self.using not in ("btree", "gist", "spgist"):
                raise ValueError(f"include is supported by btree, gist and spgist, not {self.using}")
            if self.using != "btree" and any(c.order or c.nulls for c in self.columns):
                raise ValueError(f"order and nulls apply to btree indexes only, not {self.using}")
            if self.using in ("hash", "spgist") and len(self.columns) > 1:
                raise ValueError(f"{self.using} indexes have exactly one column")
        for key in self.with_:
            if not re.fullmatch(r"[a-z_][a-z0-9_]*", key):
                raise ValueError(f"storage parameter {key!r} is not a parameter name")
        return self


class TableSpec(StrictModel):
    """What one table should have. Keys of ``tables:`` are ``schema.table``, verbatim."""

    prune_unmanaged_indexes: bool = Field(
        False, description="drop indexes not in the spec (needs the index-drop hazard allowed)")
    indexes: list[IndexSpec] = Field(default_factory=list)
    partitioning: PartitioningSpec | None = None
    storage: dict[str, ScalarText] | None = Field(
        None, description="table storage parameters (autovacuum_*, fillfactor, toast.*); when given, "
                          "parameters not listed are reset")
    statistics: dict[Identifier, Annotated[int, Field(ge=0, le=10000)]] | None = Field(
        None, description="per-column statistics targets (ALTER COLUMN … SET STATISTICS), column names "
                          "verbatim; when given, other columns go back to default_statistics_target")

    @field_validator("storage")
    @classmethod
    def _storage_names(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for key, text in (value or {}).items():
            if not re.fullmatch(r"(toast\.)?[a-z_][a-z0-9_]*", key):
                raise ValueError(f"{key!r} is not a storage parameter name")
            if any(ch in text for ch in "\n\r\x00"):
                raise ValueError(f"the value of {key} contains a line break")
        return value


def _table_key(value: str) -> str:
    schema, dot, table = value.partition(".")
    if not dot or not schema or not table:
        raise ValueError(f"table keys are 'schema.table', got {value!r}")
    _identifier(schema)
    _identifier(table)
    return value


TableKey = Annotated[str, AfterValidator(_table_key)]


# --------------------------------------------------------------------------- extensions

def _extension_from_text(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


class ExtensionSpec(StrictModel):
    """An extension that must be installed (``CREATE EXTENSION``); a string is just the name."""

    name: Identifier
    schema_: Identifier | None = Field(None, alias="schema")
    version: str | None = None


# --------------------------------------------------------------------------- target

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


class Spec(StrictModel):
    """The whole desired state of one database."""

    version: Literal[1]
    target: TargetSpec = Field(default_factory=TargetSpec)
    extensions: list[Annotated[ExtensionSpec, BeforeValidator(_extension_from_text)]] = Field(default_factory=list)
    tables: dict[TableKey, TableSpec] = Field(default_factory=dict)
    postgres: PostgresSpec | None = None
    pgbouncer: PgbouncerSpec | None = None
    monitoring: MonitoringSpec = Field(default_factory=MonitoringSpec)
    maintenance: MaintenanceSpec | None = None

    _source: Any = PrivateAttr(None)

    @property
    def source(self) -> Any:
        """The :class:`~reconciler.spec.loader.SpecSource` this spec was loaded from."""
        return self._source

    @property
    def target_major(self) -> int:
        """The PostgreSQL major offline checks use: ``postgres.major``, else the newest known."""
        return target_major(self.postgres.major if self.postgres else None)

    def attach_source(self, source: Any) -> None:
        """Remember where this spec came from (the loader calls it once)."""
        self._source = source

    def secret(self, path: SpecPath, value: SecretStr) -> str:
        """The secret at ``path`` with ``${ENV}`` expanded; a missing variable is a located
        :class:`~reconciler.base.errors.SpecError`."""
        try:
            return expand_secret(value)
        except ValueError as exc:
            source = self._source
            problem = source.problem(path, str(exc)) if source else Problem("spec", None, "", str(exc))
            raise SpecError([problem]) from None

    def semantic_problems(self) -> list[SpecProblem]:
        """Problems across objects (duplicate names): ``(path, message)`` pairs."""
        problems: list[SpecProblem] = []
        if self.postgres is not None:
            problems += [(("postgres",) + path, message) for path, message in self.postgres.problems()]
        if self.pgbouncer is not None:
            problems += [(("pgbouncer",) + path, message) for path, message in self.pgbouncer.problems()]
        seen_ext: dict[str, int] = {}
        for i, ext in enumerate(self.extensions):
            if ext.name in seen_ext:
                problems.append((("extensions", i), f"extension {ext.name} is listed twice"))
            seen_ext[ext.name] = i
        seen_index: dict[tuple[str, str], SpecPath] = {}
        for key, table in self.tables.items():
            schema = split_table_key(key)[0]
            for i, index in enumerate(table.indexes):
                path = ("tables", key, "indexes", i, "name")
                other = seen_index.get((schema, index.name))
                if other:
                    problems.append((path, f"duplicate index name {index.name} in schema {schema} "
                                           f"(also at {format_path(other)}); index names are unique per schema"))
                seen_index[(schema, index.name)] = path[:-1]
        return problems


def split_table_key(key: str) -> tuple[str, str]:
    """``"public.agents"`` -> ``("public", "agents")`` (split at the first dot, verbatim)."""
    schema, _, table = key.partition(".")
    return schema, table


def format_path(path: SpecPath) -> str:
    """The human form of a spec path: ``tables.public.agents.indexes[2].where``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
