"""Settings per role and per database (``ALTER ROLE … SET``, ``ALTER DATABASE … SET``, ``ALTER ROLE
… IN DATABASE … SET``): declared in ``role_settings:``, read from ``pg_db_role_setting``, applied as
SQL — on a Patroni cluster too, on its leader (they are catalog rows, replicated like any other,
not Patroni's). A change takes effect for the sessions that start after it."""

from __future__ import annotations

from typing import Any, ClassVar

from reconciler.base.kinds import Action, ChangeKind
from reconciler.facts.settings import display, normalize, shown
from reconciler.plan.models import Change, Statement
from reconciler.render import render_statement
from reconciler.resources.base import InspectContext, PlanContext, ResourceType
from reconciler.resources.diffs import Diff
from reconciler.resources.document import Spec
from reconciler.resources.role_settings.diff import LiveRoleSettings, RoleSettingAction, diff_role_settings
from reconciler.resources.role_settings.read import read_role_settings
from reconciler.resources.role_settings.spec import describe_scope


class RoleSettings(ResourceType[LiveRoleSettings, Diff[RoleSettingAction]]):
    kind: ClassVar[ChangeKind] = ChangeKind.ROLE_SETTING
    section: ClassVar[str] = "role_settings"
    phase: ClassVar[int] = 15

    def declared(self, spec: Spec) -> bool:
        return bool(spec.role_settings) or spec.prune_unmanaged_role_settings

    def read(self, ctx: PlanContext) -> LiveRoleSettings:
        entries = ctx.spec.role_settings
        return read_role_settings(ctx.conn, sorted({e.role for e in entries if e.role}),
                                  sorted({e.database for e in entries if e.database}),
                                  [name for e in entries for name in e.settings])

    def diff(self, ctx: PlanContext, live: LiveRoleSettings) -> Diff[RoleSettingAction]:
        return diff_role_settings(ctx.spec.role_settings, live, ctx.spec.prune_unmanaged_role_settings)

    def changes(self, diff: Diff[RoleSettingAction]) -> list[tuple[int, Change]]:
        return [(self.phase, role_setting_change(action)) for action in diff.actions]

    def export(self, ctx: InspectContext) -> dict[str, Any]:
        live = read_role_settings(ctx.conn, [], [], [])
        entries = []
        for role, database in sorted(live.here):
            settings = {}
            for lower, (name, text) in sorted(live.values[(role, database)].items()):
                defn = live.definitions.get(lower)
                settings[name] = display(defn, normalize(defn, text)) if defn is not None else text
            entry: dict[str, Any] = {"role": role} if role else {}
            if database:
                entry["database"] = database
            entry["settings"] = settings
            entries.append(entry)
        return {"role_settings": entries} if entries else {}


def role_setting_change(action: RoleSettingAction) -> Change:
    """One ALTER ROLE / ALTER DATABASE statement; it takes effect for sessions that start after it."""
    sql = render_statement("role_settings/alter_role_set", role=action.role or None, database=action.database or None,
                           name=tuple(action.name.lower().split(".")), value=action.text)
    who = describe_scope(action.role, action.database)
    reason = (f"{action.current} -> {action.desired} (new sessions of {who})" if action.action == "set"
              else f"set to {action.current} outside the spec")
    return Change(kind=ChangeKind.ROLE_SETTING, action=Action(action.action), name=action.label, reason=reason,
                  statements=(Statement(sql=sql),),
                  details={"role": action.role or None, "database": action.database or None, "setting": action.name,
                           "from": shown(action.name, action.current), "to": shown(action.name, action.desired)})
