"""Where a target's settings live, and so how they are read, compared and changed: two backends
behind one small interface.

* :class:`AlterSystem` — a standalone server: ``pg_settings`` and ``pg_file_settings``; each
  setting written with ``ALTER SYSTEM`` and the configuration reloaded once, at the end;
* :class:`ThroughPatroni` — a Patroni cluster: its dynamic configuration (``GET``/``PATCH
  /config``), which Patroni applies on every member and keeps across failovers, and every member's
  live settings; ``ALTER SYSTEM`` values on a member that shadow it are reset there.

:func:`backend_for` chooses by target; the settings resource never asks which one it has.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

import psycopg

from reconciler.base.errors import ConnectionFailed
from reconciler.base.kinds import Action, ChangeKind
from reconciler.catalog.models import LiveSettings
from reconciler.catalog.settings import read_settings
from reconciler.connect.targets import Target
from reconciler.facts.settings import SettingDef, shown
from reconciler.plan.models import Change, Hazard, Statement
from reconciler.render import quote_literal, render_statement
from reconciler.resources.base import PlanContext
from reconciler.resources.settings.desired import DesiredSetting
from reconciler.resources.settings.diff import SettingAction, SettingDiff, SettingsDiff, diff_settings
from reconciler.resources.settings.patroni import MemberState, PatroniSettingDiff, diff_patroni_settings

EFFECTS = {"restart": "takes effect after a restart", "reload": "takes effect on reload",
           "new sessions": "new sessions only"}

L = TypeVar("L")
D = TypeVar("D", bound=SettingsDiff[Any])


class SettingsBackend(ABC, Generic[L, D]):
    """How one kind of target keeps its settings: read (``L``), compare (``D``), change."""

    via: ClassVar[str]

    @abstractmethod
    def read(self, ctx: PlanContext, desired: dict[str, DesiredSetting]) -> L: ...

    @abstractmethod
    def diff(self, ctx: PlanContext, desired: dict[str, DesiredSetting], live: L) -> D: ...

    @abstractmethod
    def changes(self, diff: D) -> list[Change]: ...


@dataclass
class PatroniState:
    """What a Patroni cluster says: its dynamic configuration, each member's live settings, and
    the definitions (type, unit, context) of the settings involved."""

    dynamic: dict[str, Any]
    definitions: dict[str, SettingDef]
    members: list[MemberState]




class AlterSystem(SettingsBackend[LiveSettings, SettingDiff]):
    via: ClassVar[str] = SettingDiff.via

    def read(self, ctx: PlanContext, desired: dict[str, DesiredSetting]) -> LiveSettings:
        return read_settings(ctx.conn, [*desired, "shared_preload_libraries"])

    def diff(self, ctx: PlanContext, desired: dict[str, DesiredSetting], live: LiveSettings) -> SettingDiff:
        postgres, catalog = ctx.spec.postgres, ctx.catalog
        assert postgres is not None
        modules = {name.lower() for name, ext in catalog.extensions.items() if ext.available}
        preload = live.values.get("shared_preload_libraries")
        if preload is not None:
            modules |= {part.strip().lower() for part in preload.setting.split(",") if part.strip()}
        return diff_settings(desired, live, modules, postgres.prune_unmanaged_settings, catalog.server.major)

    def changes(self, diff: SettingDiff) -> list[Change]:
        return setting_changes(diff.actions)


class ThroughPatroni(SettingsBackend[PatroniState, PatroniSettingDiff]):
    via: ClassVar[str] = PatroniSettingDiff.via

    def read(self, ctx: PlanContext, desired: dict[str, DesiredSetting]) -> PatroniState:
        assert ctx.target is not None
        return read_patroni(ctx.target, ctx.conn, list(desired))

    def diff(self, ctx: PlanContext, desired: dict[str, DesiredSetting], live: PatroniState) -> PatroniSettingDiff:
        assert ctx.spec.postgres is not None
        return diff_patroni_settings(desired, live.dynamic, live.definitions, live.members,
                                     ctx.spec.postgres.prune_unmanaged_settings)

    def changes(self, diff: PatroniSettingDiff) -> list[Change]:
        return patroni_setting_changes(diff)


BACKENDS: dict[str, SettingsBackend[Any, Any]] = {b.via: b for b in (AlterSystem(), ThroughPatroni())}


def backend_for(target: Target | None) -> SettingsBackend[Any, Any]:
    """Patroni's dynamic configuration for a Patroni cluster, ALTER SYSTEM otherwise."""
    return BACKENDS[ThroughPatroni.via if target is not None and target.patroni is not None else AlterSystem.via]


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
        name = tuple(action.name.lower().split("."))
        reset = [Statement(sql=render_statement("settings/alter_system", name=name, value=None),
                           target="member", member=member, transactional=False),
                 Statement(sql=render_statement("settings/reload_conf"), target="member", member=member)]
        changes.append(Change(kind=ChangeKind.SETTING, action=Action.RESET, name=action.name,
                              reason=f"{action.source} ({shown(action.name, action.current)}); reset on {member}",
                              statements=tuple(reset),
                              details={"member": member, "from": shown(action.name, action.current)}))
    return changes


def setting_changes(actions: list[SettingAction]) -> list[Change]:
    """ALTER SYSTEM for each setting; the server reloads its configuration once, at the end."""
    changes = []
    for number, action in enumerate(actions, start=1):
        name = tuple(action.name.lower().split("."))
        statements = []
        if action.action in ("set", "reset"):
            statements.append(Statement(sql=render_statement("settings/alter_system", name=name, value=action.text),
                                        transactional=False))
        if number == len(actions) or action.action == "reload":
            statements.append(Statement(sql=render_statement("settings/reload_conf")))
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
