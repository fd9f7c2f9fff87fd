"""The registry of resource types: every kind of object pgrecon manages, in plan order of reading.

The plan engine (:func:`reconciler.engine.planner.make_plan`), ``inspect`` and ``render`` iterate
:data:`RESOURCE_TYPES`; adding a kind is its package (``resources/<kind>/``), one line here and its
part in the assembled spec (:mod:`.document`). A kind that reads another's diff declares it in
``needs`` and is planned after it; otherwise kinds are read in the order listed (the order of
their notes). The order of the plan's changes is each change's phase.
"""

from __future__ import annotations

from reconciler.resources.base import AnyResource, Diff, InspectContext, PlanContext, ResourceType, in_needed_order
from reconciler.resources.extensions.resource import Extensions
from reconciler.resources.indexes.resource import Indexes
from reconciler.resources.partitions.resource import Partitions
from reconciler.resources.pgbouncer.resource import Pgbouncer
from reconciler.resources.role_settings.resource import RoleSettings
from reconciler.resources.settings.resource import ServerSettings
from reconciler.resources.statistics.resource import ColumnStatistics
from reconciler.resources.storage.resource import TableStorage

RESOURCE_TYPES: tuple[AnyResource, ...] = in_needed_order([
    ServerSettings(),
    RoleSettings(),
    Extensions(),
    TableStorage(),
    ColumnStatistics(),
    Indexes(),
    Partitions(),
    Pgbouncer(),
])

SECTIONS = tuple(r.section for r in RESOURCE_TYPES)
"""The names ``inspect --include`` takes."""

__all__ = ["RESOURCE_TYPES", "SECTIONS", "Diff", "InspectContext", "PlanContext", "ResourceType"]
