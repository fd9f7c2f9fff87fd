"""The vocabulary every stage shares: kinds of managed object, actions, and notes.

A low layer (it imports nothing of pgrecon): the diff stage produces :class:`Note` objects, the
plan stage :class:`~reconciler.plan.models.Change` objects whose ``kind`` and ``action`` are
these enums, and the output layer prints both.

>>> f"{ChangeKind.INDEX} {Action.CREATE}"
'index create'
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

SpecPath = tuple[Any, ...]
"""Where something is in the spec: ``("tables", "public.t", "indexes", 2, "where")``."""

SpecProblem = tuple[SpecPath, str]
"""A problem that stops the plan: the spec path it is about, and the message (located with the
spec's file and line when reported)."""


class ChangeKind(StrEnum):
    """What a change or a note is about: one per resource type."""

    EXTENSION = "extension"
    INDEX = "index"
    PARTITION = "partition"
    SETTING = "setting"
    TABLE_SETTING = "table-setting"
    STATISTICS = "statistics"
    PGBOUNCER = "pgbouncer"
    ROLE_SETTING = "role-setting"


class Action(StrEnum):
    """What a change does."""

    CREATE = "create"
    UPDATE = "update"
    RENAME = "rename"
    REPLACE = "replace"
    REBUILD = "rebuild"
    ATTACH = "attach"
    DROP = "drop"
    DETACH = "detach"
    FINALIZE = "finalize"
    SET = "set"
    RESET = "reset"
    RELOAD = "reload"
    RESTART = "restart"


class Note(BaseModel):
    """Something a plan reports that is not a change (an unmanaged index, a pending restart)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ChangeKind
    name: str
    table: str | None = None
    message: str

    def line(self) -> str:
        """``index t_a on public.t: unmanaged …`` (one line, for text output)."""
        where = f" on {self.table}" if self.table else ""
        return f"{self.kind} {self.name}{where}: {self.message}" if self.name else f"{self.kind}: {self.message}"
