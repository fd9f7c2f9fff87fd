"""``postgres:``: server settings (postgresql.conf), declared or derived from the machine."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from reconciler.base.kinds import SpecProblem
from reconciler.facts.settings import SettingValueError, builtin_settings, normalize, target_major
from reconciler.spec.types import ScalarText, StrictModel

_MEMORY = re.compile(r"^\s*(\d+)\s*(kB|MB|GB|TB)\s*$")
_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


class TuneSpec(StrictModel):
    """Machine and workload; settings are derived by PGTune's formulas (explicit settings win)."""

    memory: str = Field(description="total RAM of the server, e.g. 16GB")
    cpus: int | None = Field(None, ge=1)
    storage: Literal["hdd", "ssd", "nvme", "san"] = "ssd"
    workload: Literal["web", "oltp", "dw", "mixed", "desktop"] = "web"
    max_connections: int | None = Field(None, ge=1)

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: str) -> str:
        if not _MEMORY.match(str(value)):
            raise ValueError(f"memory is a size such as 16GB or 512MB, got {value!r}")
        return value

    @property
    def memory_kb(self) -> int:
        match = _MEMORY.match(self.memory)
        assert match is not None  # checked by the validator
        number, unit = match.groups()
        return int(number) * {"kB": 1, "MB": 1024, "GB": 1024 ** 2, "TB": 1024 ** 3}[unit]


class PostgresSpec(StrictModel):
    """Server settings, applied with ALTER SYSTEM and rendered to postgres/postgresql.conf."""

    settings: dict[str, ScalarText] = Field(
        default_factory=dict, description="setting: value as written in postgresql.conf (256MB, 100ms, on)")
    tune: TuneSpec | None = None
    major: int | None = Field(None, description="PostgreSQL major for offline checks (default: the newest known)")
    prune_unmanaged_settings: bool = Field(False, description="RESET values set with ALTER SYSTEM that the spec "
                                                             "does not declare")

    def problems(self, major: int | None = None) -> list[SpecProblem]:
        """Settings that PostgreSQL ``major`` (default: this spec's ``major``, else the newest
        known) would refuse, checked offline: ``(path below postgres, message)`` pairs."""
        major = major or target_major(self.major)
        try:
            defs = builtin_settings(major)
        except FileNotFoundError as exc:
            return [(("major",), str(exc))]
        out: list[SpecProblem] = []
        seen: dict[str, str] = {}
        for name, text in self.settings.items():
            path = ("settings", name)
            lower = name.lower()
            if not _SETTING_NAME.match(name):
                out.append((path, f"{name!r} is not a setting name"))
                continue
            if lower in seen:
                out.append((path, f"settings are case-insensitive: {name} is also given as {seen[lower]}"))
                continue
            seen[lower] = name
            if any(ch in text for ch in "\n\r\x00"):
                out.append((path, f"the value of {name} contains a line break"))
                continue
            if "." in name or "${" in text:
                continue  # an extension's setting, or one from the environment: checked at plan time
            defn = defs.get(lower)
            if defn is None:
                out.append((path, f"PostgreSQL {major} has no setting {name!r}"))
            elif defn.context == "internal":
                out.append((path, f"{name} is read-only (set when the server is built or initialised)"))
            else:
                try:
                    normalize(defn, text)
                except SettingValueError as exc:
                    out.append((path, f"{exc}"))
        return out


class SettingsPart(StrictModel):
    """``postgres:``: server settings."""

    postgres: PostgresSpec | None = None
