"""The plan: an ordered, frozen list of typed changes.

A change knows what it is (``kind``, ``action``, ``name``, ``table``), why (``reason``), its
statements (each saying whether it must run outside a transaction, which lock it takes and
whether it builds an index), and its risk as typed fields: ``hazards``, ``destructive``,
``locks``, ``requires_restart``. Nothing about risk is decided by reading SQL text.

``plan`` prints a Plan; ``apply`` executes the same Plan object (or one saved by ``plan --out``).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from reconciler.base.kinds import Action, ChangeKind, Note

__all__ = ["Action", "Change", "ChangeKind", "Hazard", "Note", "Plan", "Statement"]


class Hazard(StrEnum):
    """Risks that ``apply`` refuses unless allowed with ``--allow-hazards``."""

    INDEX_DROP = "index-drop"
    INDEX_REBUILD = "index-rebuild"
    TABLE_LOCK = "table-lock"
    PARTITION_DROP = "partition-drop"
    PARTITION_DETACH = "partition-detach"
    RESTART_REQUIRED = "restart-required"


DESTRUCTIVE_HAZARDS = frozenset({Hazard.INDEX_DROP, Hazard.PARTITION_DROP, Hazard.PARTITION_DETACH})

HAZARD_HELP = {
    Hazard.INDEX_DROP: "an index is dropped; queries that used it slow down",
    Hazard.INDEX_REBUILD: "a valid index is replaced by another definition: a full build, and the old "
                          "definition goes away",
    Hazard.TABLE_LOCK: "a statement takes a lock that blocks reads or writes of a table (bounded by "
                       "lock_timeout)",
    Hazard.PARTITION_DROP: "a partition and its rows are dropped",
    Hazard.PARTITION_DETACH: "a partition is detached: its rows leave the table",
    Hazard.RESTART_REQUIRED: "a setting takes effect only after a server restart",
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Statement(_Frozen):
    """One SQL statement of a change."""

    sql: str
    transactional: bool = Field(True, description="False: must run outside a transaction block")
    lock: str | None = Field(None, description="strongest lock taken on a table, e.g. SHARE UPDATE EXCLUSIVE")
    timeout: Literal["ddl", "build"] = Field("ddl", description="which statement_timeout applies")
    builds: tuple[str, str] | None = Field(None, description="(schema, index) this statement builds")
    block: bool = Field(False, description="several statements that run together in one transaction")
    target: Literal["database", "pgbouncer", "file", "patroni", "member"] = Field(
        "database", description="where it runs: the database (its leader on a cluster), the PgBouncer admin "
                                "console, a file write, Patroni's REST API, or one member of a Patroni cluster")
    path: str | None = Field(None, description="file target: the file written")
    content: str | None = Field(None, description="file target: what is written")
    expect: dict[str, str] | None = Field(None, description="pgbouncer target: SHOW CONFIG values to see after; "
                                                            "patroni target: settings every member must run")
    patch: dict[str, Any] | None = Field(None, description="patroni target: the PATCH /config body")
    member: str | None = Field(None, description="member target: the Patroni member it runs on")


class Change(_Frozen):
    """One typed change."""

    kind: ChangeKind
    action: Action
    name: str
    table: str | None = None
    reason: str = ""
    statements: tuple[Statement, ...] = ()
    hazards: tuple[Hazard, ...] = ()
    requires_restart: bool = False
    via: str | None = Field(None, description="how it is applied when not by SQL on the target: patroni")
    after: tuple[str, ...] = Field((), description="titles of changes this one needs done first")
    details: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _drop_derived(cls, data: Any) -> Any:
        """A saved plan carries the derived fields too; they are recomputed, not trusted."""
        if isinstance(data, dict):
            data = {k: v for k, v in data.items() if k not in ("destructive", "locks", "sql")}
        return data

    @computed_field  # type: ignore[prop-decorator]  # pydantic: a property that is serialised
    @property
    def destructive(self) -> bool:
        return any(h in DESTRUCTIVE_HAZARDS for h in self.hazards)

    @computed_field  # type: ignore[prop-decorator]  # pydantic: a property that is serialised
    @property
    def locks(self) -> list[str]:
        return sorted({s.lock for s in self.statements if s.lock})

    @computed_field  # type: ignore[prop-decorator]  # pydantic: a property that is serialised
    @property
    def sql(self) -> list[str]:
        return [s.sql for s in self.statements]

    @property
    def title(self) -> str:
        """``index create t_a on public.t``: how every output names a change."""
        return f"{self.kind} {self.action} {self.name}" + (f" on {self.table}" if self.table else "")


class Plan(_Frozen):
    """What ``apply`` will do, and the live state it was computed from."""

    format: Literal["pgrecon-plan/1"] = "pgrecon-plan/1"
    spec_sha256: str
    fingerprint: str = Field(description="hash of the live state the plan was made from (empty when not computed)")
    database: str
    server_version: str
    created_at: datetime
    now: datetime | None = None
    changes: tuple[Change, ...] = ()
    notes: tuple[Note, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.changes

    @property
    def hazards(self) -> list[Hazard]:
        return sorted({h for c in self.changes for h in c.hazards})

    def disallowed(self, allowed: set[str]) -> list[Change]:
        """Changes with a hazard not in ``allowed`` (``"all"`` allows every hazard)."""
        if "all" in allowed:
            return []
        return [c for c in self.changes if any(h.value not in allowed for h in c.hazards)]

    def without(self, refused: list[Change]) -> tuple[Plan, list[Change]]:
        """This plan without ``refused`` and the changes that need one of them first; also
        returns everything left out (the refused first)."""
        out = {c.title for c in refused}
        left: list[Change] = list(refused)
        kept = []
        for change in self.changes:
            if change in refused:
                continue
            if out & set(change.after):
                out.add(change.title)
                left.append(change)
                continue
            kept.append(change)
        return self.model_copy(update={"changes": tuple(kept)}), left

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    @property
    def plan_sha256(self) -> str:
        """Hash of the changes (what will be done), for history and review."""
        body = json.dumps([c.model_dump(mode="json") for c in self.changes], sort_keys=True)
        return hashlib.sha256(body.encode()).hexdigest()
