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

from reconciler.base.errors import ConnectionFailed
from reconciler.base.kinds import Action, ChangeKind
from reconciler.catalog.models import LiveSettings
from reconciler.catalog.settings import read_settings
from reconciler.connect.targets import Target
from reconciler.facts.settings import SettingDef, SettingValueError, carries_secret, display, normalize, shown
from reconciler.plan.models import Change, Hazard, Statement
from reconciler.render import quote_literal, render_statement
from reconciler.render.files import RenderedFile
from reconciler.resources.base import Diff, InspectContext, PlanContext, ResourceType
from reconciler.resources.document import Spec
from reconciler.resources.settings.desired import desired_settings
from reconciler.resources.settings.diff import SettingAction, SettingDiff, diff_settings
from reconciler.resources.settings.files import postgres_conf
from reconciler.resources.settings.patroni import MemberState, PatroniSettingDiff, diff_patroni_settings

EFFECTS = {"restart": "takes effect after a restart", "reload": "takes effect on reload",
           "new sessions": "new sessions only"}


@dataclass
class PatroniState:
    """What a Patroni cluster says: its dynamic configuration, each member's live settings, and
    the definitions (type, unit, context) of the settings involved."""

    dynamic: dict[str, Any]
    definitions: dict[str, SettingDef]
    members: list[MemberState]


class ServerSettings(ResourceType[Any, Any]):
    kind: ClassVar[ChangeKind] = ChangeKind.SETTING
    section: ClassVar[str] = "settings"
    phase: ClassVar[int] = 10

    def declared(self, spec: Spec) -> bool:
        return spec.postgres is not None

    def read(self, ctx: PlanContext) -> LiveSettings | PatroniState:
        desired = desired_settings(ctx.spec, ctx.catalog.server.major, expand=True)
        if ctx.target is not None and ctx.target.patroni is not None:
            return read_patroni(ctx.target, ctx.conn, list(desired))
        return read_settings(ctx.conn, [*desired, "shared_preload_libraries"])

    def diff(self, ctx: PlanContext, live: LiveSettings | PatroniState) -> SettingDiff | PatroniSettingDiff:
        spec, catalog = ctx.spec, ctx.catalog
        assert spec.postgres is not None
        desired = desired_settings(spec, catalog.server.major, expand=True)
        if isinstance(live, PatroniState):
            return diff_patroni_settings(desired, live.dynamic, live.definitions, live.members,
                                         spec.postgres.prune_unmanaged_settings)
        modules = {name.lower() for name, ext in catalog.extensions.items() if ext.available}
        preload = live.values.get("shared_preload_libraries")
        if preload is not None:
            modules |= {part.strip().lower() for part in preload.setting.split(",") if part.strip()}
        return diff_settings(desired, live, modules, spec.postgres.prune_unmanaged_settings, catalog.server.major)

    def changes(self, diff: Diff[Any]) -> list[tuple[int, Change]]:
        if isinstance(diff, PatroniSettingDiff):
            return [(self.phase, change) for change in patroni_setting_changes(diff)]
        assert isinstance(diff, SettingDiff)
        return [(self.phase, change) for change in setting_changes(diff.actions)]

    def export(self, ctx: InspectContext) -> dict[str, Any]:
        settings = configured_settings(ctx.conn)
        return {"postgres": {"settings": settings}} if settings else {}

    def files(self, spec: Spec, out_dir: Path, spec_file: str,
              secrets: bool) -> tuple[list[RenderedFile], list[str]]:
        return [postgres_conf(spec, spec_file)], []


def read_patroni(target: Target, conn: psycopg.Connection, names: list[str]) -> PatroniState:
    """Patroni's dynamic configuration and cluster view, and every member's live settings (the
    declared ones, and whatever ALTER SYSTEM wrote there)."""
    assert target.patroni is not None
    dynamic = target.patroni.parameters()
    cluster = target.patroni.cluster()
    wanted = sorted({*(n.lower() for n in names), *(n.lower() for n in dynamic)})
    definitions = {name: s.definition for name, s in read_settings(conn, wanted).values.items()}
    members = []
    for member in cluster.members:
        try:
            with target.member_session(member) as member_conn:
                live = read_settings(member_conn, wanted)
            members.append(MemberState(member.name, member.role, member.pending_restart, live))
        except (ConnectionFailed, psycopg.Error) as exc:
            message = exc.message if isinstance(exc, ConnectionFailed) else str(exc).strip()
            members.append(MemberState(member.name, member.role, member.pending_restart, None, message))
    return PatroniState(dynamic, definitions, members)


def _patch_text(name: str, text: str) -> str:
    return f"PATCH /config postgresql.parameters.{name} = {quote_literal(text)}"


def patroni_setting_changes(diff: PatroniSettingDiff) -> list[Change]:
    """PATCH /config for each setting (Patroni applies it on every member; apply waits until
    every member runs it), and ALTER SYSTEM RESET on a member for each value that shadows it."""
    changes = []
    sets = [a for a in diff.actions if a.action == "set"]
    for number, action in enumerate(sets, start=1):
        statements = [Statement(sql=_patch_text(action.name, action.text or ""), target="patroni", transactional=False,
                                patch={"postgresql": {"parameters": {action.name: action.text}}})]
        if number == len(sets):
            statements.append(Statement(sql="-- wait until every member runs the new values (or waits for a restart)",
                                        target="patroni", transactional=False,
                                        expect={a.name: a.text or "" for a in sets}))
        restart = action.effect == "restart"
        reason = (f"{shown(action.name, action.current)} -> {shown(action.name, action.desired)} "
                  f"({EFFECTS.get(action.effect, action.effect)}; through Patroni)")
        if action.source != "spec":
            reason += f"; derived: {action.source.removeprefix('tune: ')}"
        changes.append(Change(kind=ChangeKind.SETTING, action=Action.SET, name=action.name, reason=reason,
                              statements=tuple(statements), via="patroni",
                              hazards=(Hazard.RESTART_REQUIRED,) if restart else (), requires_restart=restart,
                              details={"from": shown(action.name, action.current),
                                       "to": shown(action.name, action.desired), "effect": action.effect,
                                       "source": action.source}))
    for action in (a for a in diff.actions if a.action == "reset"):
        member = action.member or ""
        reset = [Statement(sql=render_statement("alter_system", name=tuple(action.name.lower().split(".")), value=None),
                           target="member", member=member, transactional=False),
                 Statement(sql=render_statement("reload_conf"), target="member", member=member)]
        changes.append(Change(kind=ChangeKind.SETTING, action=Action.RESET, name=action.name,
                              reason=f"{action.source} ({shown(action.name, action.current)}); reset on {member}",
                              statements=tuple(reset),
                              details={"member": member, "from": shown(action.name, action.current)}))
    return changes


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
        current, desired = shown(action.name, action.current), shown(action.name, action.desired)
        reason = {"set": f"{current} -> {desired} ({effect})", "reload": "written, not yet reloaded",
                  "reset": f"set to {current} outside the spec"}[action.action]
        if action.source != "spec" and action.action == "set":
            reason += f"; derived: {action.source.removeprefix('tune: ')}"
        changes.append(Change(kind=ChangeKind.SETTING, action=Action(action.action), name=action.name, reason=reason,
                              statements=tuple(statements),
                              hazards=(Hazard.RESTART_REQUIRED,) if restart else (),
                              requires_restart=restart,
                              details={"from": current, "to": desired, "effect": action.effect,
                                       "source": action.source}))
    return changes
