"""Values as people write them, in PostgreSQL's vocabulary: durations (``5s``, ``100ms``,
``1min``), memory units, and booleans (``on``/``off``, ``yes``/``no``, ``true``/``false``,
``1``/``0`` and unambiguous prefixes). One home for each, used by settings, storage parameters,
PgBouncer values and the spec.

>>> parse_duration_ms("1min")
60000
>>> format_duration_ms(1500)
'1500ms'
>>> parse_bool("of"), parse_bool("Y")
(False, True)
"""

from __future__ import annotations

import re

# PostgreSQL's time units (guc.c), in milliseconds, and memory units in kB.
TIME_UNITS_MS = {"us": 0.001, "ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}
MEMORY_UNITS_KB = {"B": 1 / 1024, "kB": 1, "MB": 1024, "GB": 1024 ** 2, "TB": 1024 ** 3}

_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


def parse_bool(text: str) -> bool:
    """PostgreSQL's boolean syntax (parse_bool in the server): true/false, yes/no, on/off, 1/0,
    and unambiguous prefixes of true, false, yes and no. Raises ``ValueError`` otherwise."""
    value = str(text).strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    for word, result in (("true", True), ("yes", True), ("false", False), ("no", False)):
        if value and word.startswith(value):
            return result
    raise ValueError(f"{text!r} is not a boolean (use on or off)")

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
