"""postgresql.conf values by type and unit, the way the server reads them.

``256MB`` for ``shared_buffers`` (unit ``8kB``) is 32768; ``1min`` for a setting in ``s`` is 60;
``on``/``true``/``yes``/``1`` are one boolean; enum values match case-insensitively. Values are
compared in the setting's base unit and checked against its bounds. The facts about each setting
(type, unit, bounds, enum values, context) come from the live server's ``pg_settings`` or, without
a server, from ``settings/data/pg<major>.json``.

>>> d = SettingDef("shared_buffers", "integer", "8kB", "16", "1073741823", None, "postmaster", "16384")
>>> normalize(d, "256MB"), display(d, 32768)
(32768, '256MB')
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from reconciler.base.units import MEMORY_UNITS_KB, TIME_UNITS_MS, parse_bool

LIST_SETTINGS = {"shared_preload_libraries", "session_preload_libraries", "local_preload_libraries",
                 "search_path", "temp_tablespaces", "log_destination", "default_text_search_config"}
_NUMBER = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|0[xX][0-9a-fA-F]+)\s*([A-Za-z]*)\s*$")
DATA_DIR = Path(__file__).resolve().parent / "data"


class SettingValueError(ValueError):
    """A value the server would refuse for this setting (the message says what it accepts)."""


@dataclass(frozen=True)
class SettingDef:
    """What the server knows about one setting."""

    name: str
    vartype: str            # bool, integer, real, string, enum
    unit: str | None        # base unit: 8kB, kB, MB, B, ms, s, min, or None
    min_val: str | None
    max_val: str | None
    enumvals: tuple[str, ...] | None
    context: str            # internal, postmaster, sighup, superuser-backend, backend, superuser, user
    boot_val: str | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> SettingDef:
        return cls(row["name"], row["vartype"], row["unit"], row["min_val"], row["max_val"],
                   tuple(row["enumvals"]) if row["enumvals"] else None, row["context"], row.get("boot_val"))

    @property
    def effect(self) -> str:
        """How a change takes effect: ``restart``, ``new sessions``, ``reload`` or ``never``."""
        return {"postmaster": "restart", "backend": "new sessions", "superuser-backend": "new sessions",
                "internal": "never"}.get(self.context, "reload")

    def allowed(self) -> str:
        """What values this setting accepts, for error messages."""
        if self.vartype == "bool":
            return "on or off"
        if self.vartype == "enum":
            return "one of " + ", ".join(self.enumvals or ())
        if self.vartype in ("integer", "real"):
            low, high = self.min_val, self.max_val
            if self.unit:
                low, high = display(self, _number(low)), display(self, _number(high))
            return f"{low} .. {high}" + (f" (unit {self.unit})" if self.unit else "")
        return "text"


def carries_secret(name: str) -> bool:
    """Whether setting ``name`` may hold a password: a connection string (``primary_conninfo``) or
    a command (``archive_command``, ``restore_command``, ``ssl_passphrase_command``, …). Their
    values are never printed, and ``inspect`` writes a ``${ENV}`` placeholder for them."""
    lower = name.lower()
    return lower.endswith(("_conninfo", "_command"))


HIDDEN = "(not shown: it may hold a password)"


def shown(name: str, value: object) -> str:
    """``value`` as output may show it: hidden for a setting that :func:`carries_secret`."""
    return HIDDEN if carries_secret(name) else str(value)


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    value = float(text)
    return int(value) if value.is_integer() else value


def _unit_scale(unit: str) -> tuple[str, float]:
    """(family, size in the family's reference unit) of a unit such as ``8kB`` or ``min``."""
    match = re.fullmatch(r"(\d*)([A-Za-z]+)", unit)
    if match is None:
        raise SettingValueError(f"unknown unit {unit!r}")
    factor = int(match.group(1) or 1)
    name = match.group(2)
    if name in MEMORY_UNITS_KB:
        return "memory", factor * MEMORY_UNITS_KB[name]
    if name in TIME_UNITS_MS:
        return "time", factor * TIME_UNITS_MS[name]
    raise SettingValueError(f"unknown unit {unit!r}")


def _bool(text: str) -> bool:
    try:
        return parse_bool(text)
    except ValueError as exc:
        raise SettingValueError(str(exc)) from None


def normalize(defn: SettingDef, text: str) -> object:
    """The value as the server would hold it: bool, int or float in the base unit, enum value,
    or text. Raises :class:`SettingValueError` naming what is allowed."""
    raw = str(text)
    if defn.vartype == "bool":
        return _bool(raw)
    if defn.vartype == "enum":
        for candidate in defn.enumvals or ():
            if candidate.lower() == raw.strip().lower():
                return candidate
        raise SettingValueError(f"{raw!r} is not allowed; {defn.allowed()}")
    if defn.vartype in ("integer", "real"):
        return _normalize_number(defn, raw)
    if defn.name.lower() in LIST_SETTINGS:
        return ", ".join(part.strip() for part in raw.split(",") if part.strip())
    return raw


def _normalize_number(defn: SettingDef, raw: str) -> float | int:
    match = _NUMBER.match(raw)
    if not match:
        raise SettingValueError(f"{raw!r} is not a number{' with a unit' if defn.unit else ''}; {defn.allowed()}")
    number_text, unit = match.groups()
    number = int(number_text, 16) if number_text.lower().startswith("0x") else float(number_text)
    if unit:
        if not defn.unit:
            raise SettingValueError(f"{defn.name} takes no unit, got {raw!r}")
        family, given = _unit_scale(unit)
        base_family, base = _unit_scale(defn.unit)
        if family != base_family:
            raise SettingValueError(f"{defn.name} is a {base_family} setting; {unit!r} is a {family} unit")
        number = number * given / base
    if defn.vartype == "integer":
        rounded = round(number)
        if unit is None and float(number) != rounded:
            raise SettingValueError(f"{defn.name} takes an integer, got {raw!r}")
        number = int(rounded)
    low, high = _number(defn.min_val), _number(defn.max_val)
    if (low is not None and number < low) or (high is not None and number > high):
        raise SettingValueError(f"{raw!r} is out of range; {defn.allowed()}")
    return number


def display(defn: SettingDef, value: object) -> str:
    """A normalised value in human units (``32768`` of ``8kB`` -> ``256MB``)."""
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return "on" if value else "off"
    if defn.unit and isinstance(value, (int, float)):
        family, base = _unit_scale(defn.unit)
        amount = value * base
        units = (("TB", "GB", "MB", "kB", "B") if family == "memory" else ("d", "h", "min", "s", "ms", "us"))
        table = MEMORY_UNITS_KB if family == "memory" else TIME_UNITS_MS
        if amount in (0, -base) or value < 0:
            return str(value)
        for unit in units:
            size = table[unit]
            if amount >= size and abs(amount / size - round(amount / size)) < 1e-9:
                return f"{round(amount / size)}{unit}"
        return f"{value}{defn.unit}"
    if isinstance(value, float):
        return repr(value)
    return str(value)


@cache
def builtin_settings(major: int) -> dict[str, SettingDef]:
    """Setting definitions of PostgreSQL ``major`` from the data files (lower-case names)."""
    path = DATA_DIR / f"pg{major}.json"
    if not path.exists():
        known = sorted(int(p.stem[2:]) for p in DATA_DIR.glob("pg[0-9]*.json"))
        raise FileNotFoundError(f"no setting data for PostgreSQL {major} (have {known})")
    rows = json.loads(path.read_text())["settings"]
    return {row["name"].lower(): SettingDef.from_row(row) for row in rows}


def target_major(declared: int | None) -> int:
    """The PostgreSQL major to check settings against offline: the spec's ``postgres.major``,
    else the newest one pgrecon has facts for."""
    return declared or known_majors()[-1]


def known_majors() -> list[int]:
    return sorted(int(p.stem[2:]) for p in DATA_DIR.glob("pg[0-9]*.json"))
