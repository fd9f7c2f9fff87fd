"""The resource protocol: one small interface per kind of managed object.

A resource type says, for its kind of object (an extension, an index, a partition set, …):

* ``declared(spec)`` — whether the spec has anything of this kind;
* ``read(ctx)`` — the live state it needs, from the shared catalog snapshot (read in a fixed
  number of queries for every resource) and from read-only probes of its own;
* ``diff(ctx, live)`` — desired versus live, a pure function: typed actions, :class:`Note`\\ s
  and located problems;
* ``changes(diff)`` — the typed :class:`~reconciler.plan.models.Change`\\ s, with statements and
  hazards, each at a ``phase`` that orders the plan;
* ``export(ctx, live)`` — the live state back in spec form (``pgrecon inspect``).

The plan engine (:mod:`reconciler.engine.planner`) and ``inspect`` iterate the registry in
:mod:`reconciler.resources`; neither names a resource type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

import psycopg

from reconciler.base.kinds import ChangeKind
from reconciler.catalog.models import Catalog
from reconciler.catalog.reader import database_now
from reconciler.connect.targets import Target
from reconciler.plan.models import Change
from reconciler.render.files import RenderedFile
from reconciler.resources.diffs import Diff
from reconciler.resources.document import Spec

__all__ = ["Diff", "InspectContext", "PlanContext", "ResourceType"]

A = TypeVar("A")
L = TypeVar("L")


@dataclass
class PlanContext:
    """What resources read while planning: the session, the spec, the shared catalog snapshot,
    "now" (pinned, else the database's, read when first needed) and the diffs of the resources
    before them in the registry."""

    conn: psycopg.Connection
    spec: Spec
    catalog: Catalog
    pinned_now: datetime | None = None
    target: Target | None = None  # where the plan goes (a Patroni cluster's settings live in Patroni)
    remember_forms: bool = False  # apply: create the canonical-form cache and keep what was computed
    diffs: dict[ChangeKind, Diff[Any]] = field(default_factory=dict)
    _now: datetime | None = field(default=None, repr=False)

    @property
    def now(self) -> datetime:
        if self._now is None:
            self._now = self.pinned_now or database_now(self.conn)
        return self._now

    @property
    def now_if_read(self) -> datetime | None:
        """"Now" if a resource needed it (the plan records it), else ``None``."""
        return self._now


@dataclass
class InspectContext:
    """What resources read for ``inspect``: the session, the live catalog of the chosen tables,
    and a running PgBouncer's admin DSN (optional)."""

    conn: psycopg.Connection
    catalog: Catalog
    pgbouncer_dsn: str | None = None


class ResourceType(Generic[L, A]):
    """Base of every resource type (see the module doc)."""

    kind: ClassVar[ChangeKind]
    section: ClassVar[str]          # its name for ``inspect --include``
    phase: ClassVar[int]            # where its changes go in the plan (lower first)

    def declared(self, spec: Spec) -> bool:
        raise NotImplementedError

    def read(self, ctx: PlanContext) -> L:
        raise NotImplementedError

    def diff(self, ctx: PlanContext, live: L) -> Diff[A]:
        raise NotImplementedError

    def changes(self, diff: Diff[A]) -> list[tuple[int, Change]]:
        """``(phase, change)`` pairs; most resources use their ``phase`` for every change."""
        raise NotImplementedError

    def export(self, ctx: InspectContext) -> dict[str, Any]:
        """Spec fragments: top-level keys (``extensions``, ``postgres``, ``pgbouncer``) or
        ``{"tables": {key: {…}}}``, merged by ``inspect``. Empty when there is nothing to say."""
        return {}

    def files(self, spec: Spec, out_dir: Path, spec_file: str,
              secrets: bool) -> tuple[list[RenderedFile], list[str]]:
        """The files this kind renders from ``spec`` (``pgrecon render``), and warnings; without
        ``secrets`` those that need passwords are left out."""
        return [], []
