"""The statistics kind's part of the spec: ``tables.<t>.statistics`` (per-column targets)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from reconciler.spec.types import Identifier, StrictModel


class StatisticsTable(StrictModel):
    """A table's per-column statistics targets (the part of ``tables.<t>`` this kind reads)."""

    statistics: dict[Identifier, Annotated[int, Field(ge=0, le=10000)]] | None = Field(
        None, description="per-column statistics targets (ALTER COLUMN … SET STATISTICS), column names "
                          "verbatim; when given, other columns go back to default_statistics_target")
