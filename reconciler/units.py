"""Durations as people write them (``5s``, ``100ms``, ``1min``) in PostgreSQL's units.

>>> parse_duration_ms("1min")
60000
>>> format_duration_ms(1500)
'1500ms'
"""

from __future__ import annotations

import re

# PostgreSQL's time units (guc.c), in milliseconds.
TIME_UNITS_MS = {"us": 0.001, "ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}

_DURATION = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)


def parse_duration_ms(value: str | int | float, default_unit: str = "ms") -> int:
    """Parse ``value`` (``"5s"``, ``"250ms"``, ``"2min"``, or a bare number in ``default_unit``)
    into whole milliseconds. Raises ``ValueError`` naming the accepted units."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number with a unit, e.g. 5s or 100ms")
    if isinstance(value, (int, float)):
        number, unit = float(value), default_unit
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"not a duration: {value!r} (use a number and one of {', '.join(TIME_UNITS_MS)})")
        number, unit = float(match.group(1)), (match.group(2) or default_unit)
    if unit not in TIME_UNITS_MS:
        raise ValueError(f"unknown time unit {unit!r} in {value!r} (use one of {', '.join(TIME_UNITS_MS)})")
    if number < 0:
        raise ValueError(f"a duration cannot be negative: {value!r}")
    return round(number * TIME_UNITS_MS[unit])


def format_duration_ms(ms: int) -> str:
    """The shortest exact PostgreSQL spelling of ``ms`` milliseconds (``0`` stays ``0``)."""
    if ms == 0:
        return "0"
    for unit in ("d", "h", "min", "s"):
        size = TIME_UNITS_MS[unit]
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"
