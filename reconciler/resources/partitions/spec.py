"""``tables.<t>.partitioning``: time-range partitions kept ahead of now, retired by retention."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator, model_validator

from reconciler.resources.partitions.buckets import BucketInterval, default_naming, parse_interval
from reconciler.spec.types import Identifier, StrictModel, TimeZoneName


class PartitioningSpec(StrictModel):
    """Time-range partitions kept ahead of now and retired by retention. The table must already be
    ``PARTITION BY RANGE (column)``: tables come from the application's migrations."""

    column: Identifier
    interval: str = Field(description="hour, day, week, month, year, or 'N hours', 'N days', …")
    premake: int = Field(4, description="buckets to keep ahead of the one holding now")
    premake_back: int = Field(1, ge=0, description="buckets behind the one holding now created (and kept until "
                                                   "retention): late rows have a home")
    carve_max: int = Field(10_000, ge=0, description="rows in the default partition up to which creating a "
                                                    "partition is routine (writes wait milliseconds); above, "
                                                    "it carries the table-lock hazard")
    retention: str | None = Field(None, description="e.g. '30 days', '12 months'; older partitions are retired")
    retention_action: Literal["detach", "drop"] = "detach"
    default_partition: bool = True
    naming: str | None = Field(None, description="strftime pattern after {table}, e.g. '{table}_p%Y%m%d'")
    timezone: TimeZoneName = Field("UTC", description="time zone of bucket boundaries (IANA name)")
    start: datetime | date | None = Field(None, description="the first bucket starts here")

    @field_validator("interval", "retention")
    @classmethod
    def _interval(cls, value: str | None) -> str | None:
        if value is not None:
            parse_interval(value)
        return value

    @field_validator("premake")
    @classmethod
    def _premake(cls, value: int) -> int:
        if value < 1:
            raise ValueError("premake must be at least 1 (the bucket after the one holding now)")
        return value

    @field_validator("naming")
    @classmethod
    def _naming(cls, value: str | None) -> str | None:
        if value is not None and "%" not in value:
            raise ValueError("naming needs strftime fields (e.g. %Y%m%d) so that partitions get distinct names")
        return value

    @model_validator(mode="after")
    def _retention_covers_an_interval(self) -> PartitioningSpec:
        if self.retention and parse_interval(self.retention).min_seconds < parse_interval(self.interval).min_seconds:
            raise ValueError(f"retention {self.retention} is shorter than one interval ({self.interval})")
        return self

    @property
    def bucket_interval(self) -> BucketInterval:
        return parse_interval(self.interval)

    @property
    def retention_interval(self) -> BucketInterval | None:
        return parse_interval(self.retention) if self.retention else None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def name_pattern(self) -> str:
        return self.naming or default_naming(self.bucket_interval)


class PartitionsTable(StrictModel):
    """A table's time partitioning (the part of ``tables.<t>`` this kind reads)."""

    partitioning: PartitioningSpec | None = None
