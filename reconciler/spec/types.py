"""Building blocks shared by the spec's models: strict frozen models, identifiers, durations,
secrets that are expanded from the environment only when they are used."""

from __future__ import annotations

import os
import re
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, SecretStr

from reconciler.base import sqltext
from reconciler.base.kinds import SpecPath
from reconciler.base.names import MAX_NAME_BYTES, fits, name_bytes
from reconciler.base.redaction import remember_secret
from reconciler.base.units import parse_duration_ms


class StrictModel(BaseModel):
    """Base of every spec model: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _identifier(value: str) -> str:
    if not value:
        raise ValueError("an identifier cannot be empty")
    if "\x00" in value:
        raise ValueError("an identifier cannot contain a NUL character")
    if not fits(value):
        raise ValueError(f"identifier is {name_bytes(value)} bytes; PostgreSQL keeps at most {MAX_NAME_BYTES}")
    return value


Identifier = Annotated[str, AfterValidator(_identifier)]
"""A name taken verbatim (case-sensitive; quoted in statements when needed)."""


def _sql_expression(what: str) -> AfterValidator:
    def check(value: str) -> str:
        try:
            return sqltext.expression(value, what)
        except sqltext.SqlTextError as exc:
            raise ValueError(str(exc)) from None
    return AfterValidator(check)


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (int, float, str)):
        return str(value)
    raise ValueError("must be a single value (text, number or boolean)")


ScalarText = Annotated[str, BeforeValidator(_scalar_text)]

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_env(value: str) -> str:
    """Replace ``${NAME}`` (or ``${NAME:-default}``) with the environment's value; raises
    ``ValueError`` naming a variable that is not set and has no default."""
    def lookup(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return str(os.environ[name])
        if default is not None:
            return default
        raise ValueError(f"environment variable {name} is not set")

    return _ENV.sub(lookup, value)


def expand_secret(value: SecretStr) -> str:
    """A secret with ``${ENV}`` expanded (see :func:`expand_env`), remembered so that no output
    ever shows it (:mod:`reconciler.base.redaction`)."""
    expanded = expand_env(value.get_secret_value())
    remember_secret(expanded)
    return expanded


def _env_template(value: Any) -> Any:
    if isinstance(value, str) and "${" in value and not _ENV.search(value):
        raise ValueError("malformed ${...} reference (use ${NAME} or ${NAME:-default})")
    return value


EnvSecret = Annotated[SecretStr, BeforeValidator(_env_template)]
"""A secret (DSN, password) that may reference ``${ENV}``; expanded with :func:`expand_env` only
when it is used, so that offline commands need no secrets. Never printed."""


def _duration(value: Any) -> int:
    return parse_duration_ms(value)


DurationMs = Annotated[int, BeforeValidator(_duration)]


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name such as UTC or Europe/Berlin)") from None
    return value


TimeZoneName = Annotated[str, AfterValidator(_time_zone)]
"""An IANA time zone name (UTC, Europe/Berlin)."""

_SIZE_UNITS = {"B": 1, "kB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3}


def parse_size(value: Any) -> int:
    """``"1MB"`` -> bytes (B, kB, MB, GB); a bare number is bytes."""
    match = re.fullmatch(r"\s*(\d+)\s*(B|kB|MB|GB)?\s*", str(value))
    if not match:
        raise ValueError(f"not a size: {value!r} (e.g. 1MB)")
    return int(match.group(1)) * _SIZE_UNITS[match.group(2) or "B"]


def _size_text(value: Any) -> str:
    text = _scalar_text(value)
    parse_size(text)
    return text


SizeText = Annotated[str, BeforeValidator(_size_text)]
"""A size as written (``1MB``, ``64kB``, ``0``)."""


def _table_key(value: str) -> str:
    schema, dot, table = value.partition(".")
    if not dot or not schema or not table:
        raise ValueError(f"table keys are 'schema.table', got {value!r}")
    _identifier(schema)
    _identifier(table)
    return value


TableKey = Annotated[str, AfterValidator(_table_key)]




def split_table_key(key: str) -> tuple[str, str]:
    """``"public.agents"`` -> ``("public", "agents")`` (split at the first dot, verbatim)."""
    schema, _, table = key.partition(".")
    return schema, table


def format_path(path: SpecPath) -> str:
    """The human form of a spec path: ``tables.public.agents.indexes[2].where``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
