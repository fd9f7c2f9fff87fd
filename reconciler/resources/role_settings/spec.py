"""The role settings kind's part of the spec: settings PostgreSQL keeps per role, per database, or
per role in one database (``ALTER ROLE … SET``, ``ALTER DATABASE … SET``, ``ALTER ROLE … IN
DATABASE … SET``) — the usual way to give a reporting role more ``work_mem`` or an API role a
``statement_timeout``.

```yaml
role_settings:
  - {role: reporting, settings: {work_mem: 64MB}}
  - {database: app, settings: {statement_timeout: 60s}}
  - {role: api, database: app, settings: {statement_timeout: 5s}}
prune_unmanaged_role_settings: false   # RESET values set outside the spec (default: reported, kept)
```
"""

from __future__ import annotations

import re

from pydantic import Field, model_validator

from reconciler.base.kinds import SpecProblem
from reconciler.spec.types import Identifier, ScalarText, StrictModel

_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


class RoleSettingsEntry(StrictModel):
    """Settings for a ``role``, a ``database``, or a role in one database."""

    role: Identifier | None = Field(None, description="the role (verbatim); with database: in that database only")
    database: Identifier | None = Field(None, description="the database (verbatim); alone: for every role there")
    settings: dict[str, ScalarText] = Field(description="setting: value, as in postgresql.conf (64MB, 5s, on)")

    @model_validator(mode="after")
    def _who(self) -> RoleSettingsEntry:
        if self.role is None and self.database is None:
            raise ValueError("give a role, a database, or both")
        for name, text in self.settings.items():
            if not _SETTING_NAME.match(name):
                raise ValueError(f"{name!r} is not a setting name")
            if any(ch in text for ch in "\n\r\x00"):
                raise ValueError(f"the value of {name} contains a line break")
        return self

    @property
    def scope(self) -> tuple[str, str]:
        """``(role or "", database or "")``: what the entry is for."""
        return self.role or "", self.database or ""


class RoleSettingsPart(StrictModel):
    """``role_settings:`` and whether values set outside the spec are reset."""

    role_settings: list[RoleSettingsEntry] = Field(default_factory=list)
    prune_unmanaged_role_settings: bool = Field(False, description=(
        "RESET role and database settings the spec does not declare (default: reported, kept)"))

    def role_settings_problems(self) -> list[SpecProblem]:
        """One entry per role, database, or role in a database; each setting once (case-insensitive)."""
        problems: list[SpecProblem] = []
        seen: dict[tuple[str, str], int] = {}
        for i, entry in enumerate(self.role_settings):
            if entry.scope in seen:
                problems.append((("role_settings", i), f"{describe_scope(*entry.scope)} is also at "
                                                       f"role_settings[{seen[entry.scope]}]; give it once"))
            seen.setdefault(entry.scope, i)
            names: dict[str, str] = {}
            for name in entry.settings:
                if name.lower() in names:
                    problems.append((("role_settings", i, "settings", name),
                                     f"settings are case-insensitive: {name} is also given as {names[name.lower()]}"))
                names.setdefault(name.lower(), name)
        return problems


def describe_scope(role: str, database: str) -> str:
    """``role reporting``, ``database app`` or ``role api in database app``."""
    if role and database:
        return f"role {role} in database {database}"
    return f"role {role}" if role else f"database {database}"
