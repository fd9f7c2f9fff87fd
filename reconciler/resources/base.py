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

__all__ = ["AnyResource", "Diff", "InspectContext", "PlanContext", "ResourceType", "in_needed_order"]

L = TypeVar("L")
D = TypeVar("D", bound=Diff[Any])
N = TypeVar("N", bound=Diff[Any])


@dataclass
class PlanContext:
    """What resources read while planning: the session, the spec, the shared catalog snapshot,
    "now" (pinned, else the database's, read when first needed) and the diffs of the kinds
    planned before (:meth:`needed`)."""

    conn: psycopg.Connection
    spec: Spec
    catalog: Catalog
    pinned_now: datetime | None = None
    target: Target | None = None  # where the plan goes (a Patroni cluster's settings live in Patroni)
    remember_forms: bool = False  # apply: create the canonical-form cache and keep what was computed
    diffs: dict[ChangeKind, Diff[Any]] = field(default_factory=dict)
    _now: datetime | None = field(default=None, repr=False)

    def needed(self, kind: ChangeKind, of: type[N]) -> N | None:
        """The diff of ``kind``, which a resource ``needs`` (so it was planned before it), as the
        type that kind's diff has; ``None`` when the spec declares nothing of that kind."""
        found = self.diffs.get(kind)
        if found is None:
            return None
        if not isinstance(found, of):
            raise TypeError(f"the {kind} diff is a {type(found).__name__}, not a {of.__name__}")
        return found

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


class ResourceType(Generic[L, D]):
    """Base of every resource type (see the module doc): ``L`` is what :meth:`read` returns, ``D``
    the :class:`Diff` (or subclass) its :meth:`diff` returns and :meth:`changes` takes."""

    kind: ClassVar[ChangeKind]
    section: ClassVar[str]          # its name for ``inspect --include``
    phase: ClassVar[int]            # where its changes go in the plan (lower first)
    needs: ClassVar[tuple[ChangeKind, ...]] = ()   # kinds whose diff this one reads (planned before it)

    def declared(self, spec: Spec) -> bool:
        raise NotImplementedError

    def read(self, ctx: PlanContext) -> L:
        raise NotImplementedError

    def diff(self, ctx: PlanContext, live: L) -> D:
        raise NotImplementedError

    def changes(self, diff: D) -> list[tuple[int, Change]]:
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


AnyResource = ResourceType[Any, Any]


def in_needed_order(resources: list[AnyResource]) -> tuple[AnyResource, ...]:
    """``resources`` ordered so that each comes after the kinds it ``needs`` (otherwise in the
    order given); a need that is not registered, or a cycle, is a programming error."""
    by_kind = {r.kind: r for r in resources}
    for r in resources:
        missing = [k for k in r.needs if k not in by_kind]
        if missing:
            raise RuntimeError(f"{r.kind} needs {', '.join(missing)}, which no registered resource type is")
    done: list[AnyResource] = []
    waiting = list(resources)
    while waiting:
        ready = next((r for r in waiting if all(by_kind[k] in done for k in r.needs)), None)
        if ready is None:
            raise RuntimeError(f"resource types need each other: {', '.join(r.kind for r in waiting)}")
        done.append(ready)
        waiting.remove(ready)
    return tuple(done)
