"""What PgBouncer accepts, from ``pgbouncer/data/pgbouncer.json`` (generated from the binary).

Values are normalised to how PgBouncer shows them in ``SHOW CONFIG``: durations in seconds,
booleans as 0/1, lists without blanks after commas. That is also how they are rendered, so a
rendered file and a running PgBouncer compare equal when they mean the same.

>>> normalize("server_idle_timeout", "10min"), normalize("log_stats", "off")
('600', '0')
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from reconciler.base.units import parse_bool, parse_duration_ms

DATA = Path(__file__).resolve().parent / "data" / "pgbouncer.json"


@cache
def facts() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DATA.read_text())
    return data


def known(key: str) -> dict[str, Any] | None:
    """The facts about one ``[pgbouncer]`` setting, or None when PgBouncer has no such setting."""
    found: dict[str, Any] | None = facts()["settings"].get(key)
    return found


def release_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:2] if part.isdigit())


def check_setting(key: str, text: str) -> None:
    """Raise ``ValueError`` (naming what is allowed) if PgBouncer would refuse ``key = text``."""
    normalize(key, text)


def normalize(key: str, text: str) -> str:
    """``text`` as PgBouncer shows it for ``key`` (see the module doc)."""
    info = known(key)
    if info is None:
        raise ValueError(f"PgBouncer has no setting {key!r}")
    kind = info["kind"]
    value = str(text).strip()
    if kind == "duration":
        try:
            ms = parse_duration_ms(value, default_unit="s")
        except ValueError as exc:
            raise ValueError(f"{key} is a duration (seconds, or with a unit such as 10min): {exc}") from None
        seconds = ms / 1000
        return str(int(seconds)) if seconds.is_integer() else repr(seconds)
    if kind == "boolean":
        try:
            return "1" if parse_bool(value) else "0"
        except ValueError:
            raise ValueError(f"{key} is on or off, got {text!r}") from None
    if kind == "enum":
        if value.lower() not in info["values"]:
            raise ValueError(f"{key} is one of {', '.join(info['values'])}, got {text!r}")
        return value.lower()
    if kind == "integer":
        try:
            number = int(value)
        except ValueError:
            raise ValueError(f"{key} is a whole number, got {text!r}") from None
        if number < 0:
            raise ValueError(f"{key} cannot be negative, got {text!r}")
        return str(number)
    if kind == "list":
        return ",".join(part.strip() for part in value.split(",") if part.strip())
    return value


def keeps_prepared_statements(release: str) -> bool:
    """Whether PgBouncer ``release`` can keep protocol-level prepared statements under
    transaction pooling (``max_prepared_statements``, 1.21 and later)."""
    return release_tuple(release) >= release_tuple(PREPARED_STATEMENTS_SINCE)


PREPARED_STATEMENTS_SINCE = "1.21"
