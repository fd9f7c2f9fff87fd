"""Time buckets for range partitions: pure calendar arithmetic, no I/O.

A :class:`BucketInterval` is ``N`` hours, days, weeks, months or years. Day and longer buckets
start at local midnight in the partitioning's time zone (so a day across a daylight-saving change
is 23 or 25 hours long); hour buckets are whole hours of absolute time, aligned to local hours.
Buckets are numbered from an anchor (the spec's ``start``, else 1970-01-01 — a Monday, 1970-01-05,
for weeks), so the same instant always falls in the same bucket.

>>> day = parse_interval("day")
>>> b = bucket_at(day, datetime(2026, 3, 29, 12, tzinfo=UTC), ZoneInfo("Europe/Berlin"))
>>> (b.lower.isoformat(), b.upper.isoformat())
('2026-03-28T23:00:00+00:00', '2026-03-29T22:00:00+00:00')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

_INTERVAL = re.compile(r"^\s*(?:(\d+)\s+)?(hour|day|week|month|year)s?\s*$", re.IGNORECASE)
_APPROX_SECONDS = {"hour": 3600, "day": 86400, "week": 7 * 86400, "month": 28 * 86400, "year": 365 * 86400}
EPOCH = date(1970, 1, 1)
EPOCH_MONDAY = date(1970, 1, 5)


@dataclass(frozen=True)
class BucketInterval:
    """``count`` × ``unit`` (``unit`` in hour, day, week, month, year)."""

    unit: str
    count: int = 1

    def __str__(self) -> str:
        return self.unit if self.count == 1 else f"{self.count} {self.unit}s"

    @property
    def min_seconds(self) -> int:
        """A lower bound of its length (months count as 28 days), for comparisons."""
        return self.count * _APPROX_SECONDS[self.unit]

    @property
    def months(self) -> int:
        return self.count * (12 if self.unit == "year" else 1)


def parse_interval(text: str) -> BucketInterval:
    """``"day"``, ``"7 days"``, ``"hour"``, ``"6 hours"``, ``"month"``… -> :class:`BucketInterval`."""
    match = _INTERVAL.match(str(text))
    if not match:
        raise ValueError(f"unknown interval {text!r} (use hour, day, week, month, year, or 'N days', 'N hours', …)")
    count = int(match.group(1) or 1)
    if count < 1:
        raise ValueError(f"interval {text!r} must be at least 1")
    return BucketInterval(match.group(2).lower(), count)


@dataclass(frozen=True)
class Bucket:
    """One partition's range: ``[lower, upper)`` as instants, and as local wall-clock times."""

    index: int
    lower: datetime          # aware, UTC
    upper: datetime          # aware, UTC
    local_lower: datetime    # naive wall clock in the partitioning time zone
    local_upper: datetime


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)


def _add_months(day: date, months: int) -> date:
    total = day.year * 12 + (day.month - 1) + months
    return date(total // 12, total % 12 + 1, 1)


def _anchor(interval: BucketInterval, start: datetime | date | None, tz: ZoneInfo) -> Any:
    if start is None:
        return EPOCH_MONDAY if interval.unit == "week" else EPOCH
    if isinstance(start, datetime):
        local = start.astimezone(tz) if start.tzinfo else start
        return local if interval.unit == "hour" else local.date()
    return start


def bucket(interval: BucketInterval, index: int, tz: ZoneInfo, start: datetime | date | None = None) -> Bucket:
    """The ``index``-th bucket counted from the anchor."""
    anchor = _anchor(interval, start, tz)
    if interval.unit == "hour":
        if isinstance(anchor, date) and not isinstance(anchor, datetime):
            anchor_instant = _local_midnight(anchor, tz)
        else:
            anchor_instant = (anchor if anchor.tzinfo else anchor.replace(tzinfo=tz)).astimezone(UTC)
        lower = anchor_instant + timedelta(hours=interval.count * index)
        upper = lower + timedelta(hours=interval.count)
        return Bucket(index, lower, upper, _wall(lower, tz), _wall(upper, tz))
    if interval.unit in ("day", "week"):
        days = interval.count * (7 if interval.unit == "week" else 1)
        lo_day = anchor + timedelta(days=days * index)
        hi_day = lo_day + timedelta(days=days)
    else:
        base = date(anchor.year, anchor.month, 1)
        lo_day = _add_months(base, interval.months * index)
        hi_day = _add_months(base, interval.months * (index + 1))
    return Bucket(index, _local_midnight(lo_day, tz), _local_midnight(hi_day, tz),
                  datetime(lo_day.year, lo_day.month, lo_day.day), datetime(hi_day.year, hi_day.month, hi_day.day))


def pieces(b: Bucket, taken: list[tuple[datetime, datetime]], tz: ZoneInfo) -> list[Bucket]:
    """What of bucket ``b`` no range in ``taken`` covers, as buckets of their own (partial ones
    where a hand-made partition with other bounds overlaps ``b``), in time order.

    >>> day = bucket(parse_interval("day"), 0, ZoneInfo("UTC"))
    >>> six = day.lower + timedelta(hours=6)
    >>> [(p.lower.hour, p.upper.hour) for p in pieces(day, [(six - timedelta(days=1), six)], ZoneInfo("UTC"))]
    [(6, 0)]
    """
    free = [(b.lower, b.upper)]
    for lo, hi in taken:
        cut = []
        for start, end in free:
            if hi <= start or lo >= end:
                cut.append((start, end))
                continue
            if lo > start:
                cut.append((start, lo))
            if hi < end:
                cut.append((hi, end))
        free = cut
    return [Bucket(b.index, start, end, _wall(start, tz), _wall(end, tz)) for start, end in free if end > start]


def _wall(instant: datetime, tz: ZoneInfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)


def bucket_index(interval: BucketInterval, instant: datetime, tz: ZoneInfo,
                 start: datetime | date | None = None) -> int:
    """The number of the bucket holding ``instant`` (aware)."""
    anchor = _anchor(interval, start, tz)
    if interval.unit == "hour":
        first = bucket(interval, 0, tz, start).lower
        return int((instant - first) // timedelta(hours=interval.count))
    local_day = instant.astimezone(tz).date()
    if interval.unit in ("day", "week"):
        days = interval.count * (7 if interval.unit == "week" else 1)
        return int((local_day - anchor).days // days)
    months = (local_day.year * 12 + local_day.month) - (anchor.year * 12 + anchor.month)
    return int(months // interval.months)


def bucket_at(interval: BucketInterval, instant: datetime, tz: ZoneInfo,
              start: datetime | date | None = None) -> Bucket:
    """The bucket holding ``instant``."""
    return bucket(interval, bucket_index(interval, instant, tz, start), tz, start)


def default_naming(interval: BucketInterval) -> str:
    """``{table}_pYYYYMMDD`` (days, weeks), ``…_pYYYYMMDDHH`` (hours, in UTC), ``…_pYYYYMM``
    (months), ``…_pYYYY`` (years): strftime after ``{table}``."""
    return {"hour": "{table}_p%Y%m%d%H", "month": "{table}_p%Y%m", "year": "{table}_p%Y"}.get(
        interval.unit, "{table}_p%Y%m%d")


def partition_name(naming: str, table: str, interval: BucketInterval, b: Bucket) -> str:
    """The name of bucket ``b`` (hour buckets are named by their UTC start: local hours repeat
    when clocks go back)."""
    moment = b.lower.replace(tzinfo=None) if interval.unit == "hour" else b.local_lower
    return moment.strftime(naming.replace("{table}", table.replace("%", "%%")))


def subtract(instant: datetime, amount: BucketInterval, tz: ZoneInfo) -> datetime:
    """``instant`` minus ``amount`` in calendar terms (months and years by the calendar in ``tz``)."""
    if amount.unit == "hour":
        return instant - timedelta(hours=amount.count)
    local = instant.astimezone(tz)
    if amount.unit in ("day", "week"):
        days = amount.count * (7 if amount.unit == "week" else 1)
        moved = local.replace(tzinfo=None) - timedelta(days=days)
    else:
        total = local.year * 12 + (local.month - 1) - amount.months
        year, month = total // 12, total % 12 + 1
        last_day = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
        moved = local.replace(tzinfo=None, year=year, month=month, day=min(local.day, last_day))
    return moved.replace(tzinfo=tz).astimezone(UTC)
