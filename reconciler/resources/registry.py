"""The registry of resource types: every kind of object pgrecon manages, in plan order of reading.

The plan engine (:func:`reconciler.engine.planner.make_plan`) and ``inspect`` iterate
:data:`RESOURCE_TYPES`; adding a resource type is its module, its templates, one line here (and
its field in the spec's models). A resource may read the diffs of those before it (PgBouncer
reads the settings' desired values), so the order of this list matters; the order of the plan's
changes is each change's phase.
"""

from __future__ import annotations

from reconciler.resources.base import Diff, InspectContext, PlanContext, ResourceType
from reconciler.resources.extensions.resource import Extensions
from reconciler.resources.indexes.resource import Indexes
from reconciler.resources.partitions.resource import Partitions
from reconciler.resources.pgbouncer.resource import Pgbouncer
from reconciler.resources.settings.resource import ServerSettings
from reconciler.resources.statistics.resource import ColumnStatistics
from reconciler.resources.storage.resource import TableStorage

RESOURCE_TYPES: tuple[ResourceType, ...] = (
    ServerSettings(),
    Extensions(),
    TableStorage(),
    ColumnStatistics(),
    Indexes(),
    Partitions(),
    Pgbouncer(),
)

SECTIONS = tuple(r.section for r in RESOURCE_TYPES)
"""The names ``inspect --include`` takes."""

__all__ = ["RESOURCE_TYPES", "SECTIONS", "Diff", "InspectContext", "PlanContext", "ResourceType"]
