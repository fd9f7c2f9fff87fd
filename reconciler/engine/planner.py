"""make_plan: read the catalog once, then let every resource type read, diff and produce its
changes; order them by phase. One code path for ``plan``, ``check`` and ``apply``."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

from reconciler.base.errors import SpecError
from reconciler.base.kinds import ChangeKind, Note, SpecProblem
from reconciler.base.perf import paused_gc
from reconciler.catalog import Catalog, read_catalog
from reconciler.connect.targets import Target
from reconciler.plan.models import Change, Plan
from reconciler.resources.document import Spec
from reconciler.resources.registry import RESOURCE_TYPES, PlanContext
from reconciler.spec.types import split_table_key


def read_for_spec(conn: psycopg.Connection, spec: Spec) -> Catalog:
    """The live state of exactly what ``spec`` names."""
    return read_catalog(conn, [split_table_key(k) for k in spec.tables], [e.name for e in spec.extensions])


def make_plan(conn: psycopg.Connection, spec: Spec, now: datetime | None = None, fingerprint: bool = True,
              remember_forms: bool = False, target: Target | None = None,
              kinds: frozenset[ChangeKind] | None = None) -> Plan:
    """Everything that differs between ``spec`` and the database behind ``conn``.

    Raises :class:`SpecError` when the spec names what the database does not have or declares
    what the server refuses; nothing is changed in the database (``remember_forms``, for apply,
    creates the canonical-form cache and keeps the forms the server computed). ``fingerprint``
    (the hash of the live state a saved plan is checked against) can be skipped when nobody will
    use it. ``target`` says where the plan goes (a Patroni cluster's settings live in Patroni);
    ``kinds`` limits the plan to some resource types (verifying a replica's indexes).
    """
    with paused_gc():
        catalog = read_for_spec(conn, spec)
        ctx = PlanContext(conn, spec, catalog, pinned_now=now, remember_forms=remember_forms, target=target)
        problems: list[SpecProblem] = []
        notes: list[Note] = []
        phased: list[tuple[int, Change]] = []
        for resource in RESOURCE_TYPES:
            if not resource.declared(spec) or (kinds is not None and resource.kind not in kinds):
                continue
            diff = resource.diff(ctx, resource.read(ctx))
            ctx.diffs[resource.kind] = diff
            problems += diff.problems
            notes += diff.notes
            if not diff.problems:
                phased += resource.changes(diff)
        if problems:
            source = spec.source
            raise SpecError([source.problem(path, message) for path, message in problems])
        phased.sort(key=lambda pair: pair[0])  # stable: a resource's own order is kept
        return Plan(
            spec_sha256=source_sha(spec),
            fingerprint=catalog.fingerprint if fingerprint else "",
            database=catalog.server.database,
            server_version=catalog.server.version,
            created_at=datetime.now(UTC),
            now=ctx.now_if_read,
            changes=tuple(change for _, change in phased),
            notes=tuple(notes),
        )


def source_sha(spec: Spec) -> str:
    return spec.source.sha256 if spec.source else ""
