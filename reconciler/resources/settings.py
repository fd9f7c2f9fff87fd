"""Server settings (postgresql.conf): typed and unit-aware (see :mod:`reconciler.settings.values`).
On a standalone server they are written with ``ALTER SYSTEM`` and the configuration reloaded
once, at the end; each change says whether it takes effect on reload, for new sessions or after
a restart (``restart-required``). Settings go first in the plan."""

from __future__ import annotations

from typing import Any, ClassVar

import psycopg
from psycopg.rows import dict_row

from ..catalog.settings import LiveSettings, read_settings
from ..diff.settings import SettingAction, SettingDiff, diff_settings
from ..kinds import Action, ChangeKind
from ..plan.models import Change, Hazard, Statement
from ..render import render_statement
from ..settings.desired import desired_settings
from ..settings.values import SettingDef, SettingValueError, display, normalize
from ..spec.models import Spec
from .base import InspectContext, PlanContext, ResourceType

EFFECTS = {"restart": "takes effect after a restart", "reload": "takes effect on reload",
           "new sessions": "new sessions only"}


class ServerSettings(ResourceType[LiveSettings, SettingAction]):
    kind: ClassVar[ChangeKind] = ChangeKind.SETTING
    section: ClassVar[str] = "settings"
    phase: ClassVar[int] = 10

    def declared(self, spec: Spec) -> bool:
        return spec.postgres is not None

    def read(self, ctx: PlanContext) -> LiveSettings:
        desired = desired_settings(ctx.spec, ctx.catalog.server.major)
        return read_settings(ctx.conn, [*desired, "shared_preload_libraries"])

    def diff(self, ctx: PlanContext, live: LiveSettings) -> SettingDiff:
        spec, catalog = ctx.spec, ctx.catalog
        assert spec.postgres is not None
        desired = desired_settings(spec, catalog.server.major)
        modules = {name.lower() for name, ext in catalog.extensions.items() if ext.available}
        preload = live.values.get("shared_preload_libraries")
        if preload is not None:
            modules |= {part.strip().lower() for part in preload.setting.split(",") if part.strip()}
        return diff_settings(desired, live, modules, spec.postgres.prune_unmanaged_settings, catalog.server.major)

    def changes(self, diff: SettingDiff) -> list[tuple[int, Change]]:  # type: ignore[override]
        return [(self.phase, change) for change in setting_changes(diff.actions)]

    def export(self, ctx: InspectContext) -> dict[str, Any]:
        settings = configured_settings(ctx.conn)
        return {"postgres": {"settings": settings}} if settings else {}


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
            definition = SettingDef.from_row(row)
            try:
                out[row["name"]] = display(definition, normalize(definition, row["setting"]))
            except SettingValueError:
                out[row["name"]] = row["setting"]
    return out


def setting_changes(actions: list[SettingAction]) -> list[Change]:
    """ALTER SYSTEM for each setting; the server reloads its configuration once, at the end."""
    changes = []
    for number, action in enumerate(actions, start=1):
        name = tuple(action.name.lower().split("."))
        statements = []
        if action.action in ("set", "reset"):
            statements.append(Statement(sql=render_statement("alter_system", name=name, value=action.text),
                                        transactional=False))
        if number == len(actions) or action.action == "reload":
            statements.append(Statement(sql=render_statement("reload_conf")))
        restart = action.effect == "restart" and action.action == "set"
        effect = EFFECTS.get(action.effect, action.effect)
        reason = {"set": f"{action.current} -> {action.desired} ({effect})", "reload": "written, not yet reloaded",
                  "reset": f"set to {action.current} outside the spec"}[action.action]
        if action.source != "spec" and action.action == "set":
            reason += f"; derived: {action.source.removeprefix('tune: ')}"
        changes.append(Change(kind=ChangeKind.SETTING, action=Action(action.action), name=action.name, reason=reason,
                              statements=tuple(statements),
                              hazards=(Hazard.RESTART_REQUIRED,) if restart else (),
                              requires_restart=restart,
                              details={"from": action.current, "to": action.desired, "effect": action.effect,
                                       "source": action.source}))
    return changes
