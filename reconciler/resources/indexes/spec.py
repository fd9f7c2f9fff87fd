"""The indexes kind's part of the spec: ``tables.<t>.indexes`` and ``prune_unmanaged_indexes``.

SQL text (index expressions, ``where`` predicates, the string shorthand of a column) is checked by
:mod:`reconciler.base.sqltext` while the spec loads, so a spec that loads holds no unchecked SQL.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from reconciler.base import sqltext
from reconciler.base.kinds import SpecPath, SpecProblem
from reconciler.spec.types import (
    Identifier,
    ScalarText,
    StrictModel,
    _identifier,
    _sql_expression,
    format_path,
    split_table_key,
)

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


class AdvisedMark(StrictModel):
    """``advised:`` on an index ``advise --write`` added: when, and for which statements
    (pg_stat_statements query ids). When apply builds it, it records those statements' figures
    and the table's write counters, which ``advise --review`` later compares with the time since."""

    at: str = Field(description="when advise proposed it (ISO 8601)")
    for_: list[int] = Field(default_factory=list, alias="for", description="query ids of the statements it is for")


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
    advised: AdvisedMark | None = Field(None, description="set by advise --write; not part of the definition")

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




class IndexesTable(StrictModel):
    """A table's indexes (the part of ``tables.<t>`` this kind reads)."""

    prune_unmanaged_indexes: bool = Field(
        False, description="drop indexes not in the spec (needs the index-drop hazard allowed)")
    indexes: list[IndexSpec] = Field(default_factory=list)
    drop_indexes: list[Identifier] = Field(default_factory=list, description=(
        "indexes to drop by name, whether or not the table prunes (needs the index-drop hazard allowed); "
        "advise --review --write puts here the advised indexes that did not pay"))


def index_problems(tables: dict[str, IndexesTable]) -> list[SpecProblem]:
    """Index names must be unique per schema (PostgreSQL's rule): ``(path, message)`` pairs."""
    problems: list[SpecProblem] = []
    seen_index: dict[tuple[str, str], SpecPath] = {}
    for key, table in tables.items():
        schema = split_table_key(key)[0]
        for i, index in enumerate(table.indexes):
            path = ("tables", key, "indexes", i, "name")
            other = seen_index.get((schema, index.name))
            if other:
                problems.append((path, f"duplicate index name {index.name} in schema {schema} "
                                       f"(also at {format_path(other)}); index names are unique per schema"))
            seen_index[(schema, index.name)] = path[:-1]
        declared = {index.name for index in table.indexes}
        for i, name in enumerate(table.drop_indexes):
            if name in declared:
                problems.append((("tables", key, "drop_indexes", i), f"{name} is declared in indexes and listed "
                                                                      f"to drop; keep one"))
    return problems
