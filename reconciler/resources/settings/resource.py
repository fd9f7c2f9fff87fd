"""Server settings (postgresql.conf): typed and unit-aware (see :mod:`reconciler.facts.settings`).

The backend is chosen per target. On a standalone server settings are written with
``ALTER SYSTEM`` and the configuration reloaded once, at the end. On a Patroni cluster they go
into Patroni's dynamic configuration (``PATCH /config``), which Patroni applies on every member
and keeps across failovers; ALTER SYSTEM values on a member that shadow it are reset there.
Each change says whether it takes effect on reload, for new sessions or after a restart
(``restart-required``). Settings go first in the plan."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import psycopg
from psycopg.rows import dict_row

from reconciler.base.kinds import ChangeKind
from reconciler.facts.settings import SettingDef, SettingValueError, carries_secret, display, normalize
from reconciler.plan.models import Change
from reconciler.render.files import RenderedFile
from reconciler.resources.base import InspectContext, PlanContext, ResourceType
from reconciler.resources.document import Spec
from reconciler.resources.settings.backends import BACKENDS, SettingsBackend, backend_for
from reconciler.resources.settings.desired import DesiredSetting, desired_settings
from reconciler.resources.settings.diff import SettingsDiff
from reconciler.resources.settings.files import postgres_conf


@dataclass
class SettingsRead:
    """The live settings as the target's backend reads them."""

    backend: SettingsBackend[Any, Any]
    desired: dict[str, DesiredSetting]
    live: object


class ServerSettings(ResourceType[SettingsRead, SettingsDiff[Any]]):
    kind: ClassVar[ChangeKind] = ChangeKind.SETTING
    section: ClassVar[str] = "settings"
    phase: ClassVar[int] = 10

    def declared(self, spec: Spec) -> bool:
        return spec.postgres is not None

    def read(self, ctx: PlanContext) -> SettingsRead:
        backend = backend_for(ctx.target)
        desired = desired_settings(ctx.spec, ctx.catalog.server.major, expand=True)
        return SettingsRead(backend, desired, backend.read(ctx, desired))

    def diff(self, ctx: PlanContext, live: SettingsRead) -> SettingsDiff[Any]:
        diff: SettingsDiff[Any] = live.backend.diff(ctx, live.desired, live.live)
        return diff

    def changes(self, diff: SettingsDiff[Any]) -> list[tuple[int, Change]]:
        return [(self.phase, change) for change in BACKENDS[diff.via].changes(diff)]

    def export(self, ctx: InspectContext) -> dict[str, Any]:
        settings = configured_settings(ctx.conn)
        return {"postgres": {"settings": settings}} if settings else {}

    def files(self, spec: Spec, out_dir: Path, spec_file: str,
              secrets: bool) -> tuple[list[RenderedFile], list[str]]:
        return [postgres_conf(spec, spec_file)], []


NOT_EXPORTED = frozenset({"data_directory", "hba_file", "ident_file", "config_file", "external_pid_file"})


def configured_settings(conn: psycopg.Connection) -> dict[str, str]:
    """Settings whose value comes from a configuration file (postgresql.conf, its includes,
    postgresql.auto.conf written by ALTER SYSTEM), as a person writes them (``256MB``)."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT name, setting, unit, vartype, min_val, max_val, enumvals, context, boot_val "
                    "FROM pg_catalog.pg_settings WHERE source = 'configuration file' AND context <> 'internal' "
                    "ORDER BY name")
        out = {}
        for row in cur.fetchall():
            if row["name"] in NOT_EXPORTED:
                continue
            if carries_secret(row["name"]):  # its value may hold a password: the spec names a variable
                out[row["name"]] = "${PGRECON_SETTING_" + row["name"].upper() + "}"
                continue
            definition = SettingDef.from_row(row)
            try:
                out[row["name"]] = display(definition, normalize(definition, row["setting"]))
            except SettingValueError:
                out[row["name"]] = row["setting"]
    return out
