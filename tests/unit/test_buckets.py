"""Calendar arithmetic of time buckets (pure: no server)."""

import doctest
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.resources.partitions import buckets
from reconciler.resources.partitions.buckets import bucket, bucket_at, parse_interval

BERLIN = ZoneInfo("Europe/Berlin")
UTC = ZoneInfo("UTC")


def test_module_example_holds():
    assert doctest.testmod(buckets).failed == 0


@pytest.mark.parametrize("day,hours", [(date(2026, 3, 29), 23), (date(2026, 10, 25), 25), (date(2026, 6, 1), 24)])
def test_local_days_across_daylight_saving(day, hours):
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=BERLIN)
    b = bucket_at(parse_interval("day"), noon, BERLIN)
    assert b.local_lower == datetime(day.year, day.month, day.day)
    assert b.upper - b.lower == timedelta(hours=hours)


def test_weeks_start_on_monday_and_months_on_the_first():
    instant = datetime(2026, 11, 28, 15, tzinfo=timezone.utc)  # a Saturday
    week = bucket_at(parse_interval("week"), instant, UTC)
    assert week.local_lower == datetime(2026, 11, 23) and week.local_lower.weekday() == 0
    quarter = bucket_at(parse_interval("3 months"), instant, UTC, start=date(2026, 1, 1))
    assert (quarter.local_lower, quarter.local_upper) == (datetime(2026, 10, 1), datetime(2027, 1, 1))


@pytest.mark.parametrize("text", ["fortnight", "0 days", "day s x"])
def test_bad_intervals(text):
    with pytest.raises(ValueError):
        parse_interval(text)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(timezone.utc)),
       st.sampled_from(["hour", "6 hours", "day", "3 days", "week", "month", "year"]),
       st.sampled_from([UTC, BERLIN, ZoneInfo("America/New_York")]))
def test_every_instant_lies_in_its_bucket_and_buckets_tile(instant, text, tz):
    interval = parse_interval(text)
    b = bucket_at(interval, instant, tz)
    assert b.lower <= instant < b.upper
    assert bucket(interval, b.index + 1, tz).lower == b.upper  # no gap, no overlap
