"""Extensions: ``CREATE EXTENSION`` for a missing one, ``ALTER EXTENSION … UPDATE`` for a
declared version; they come first, since indexes may need their operator classes."""

from __future__ import annotations

from typing import Any, ClassVar

from reconciler.base.kinds import Action, ChangeKind
from reconciler.catalog.models import Catalog
from reconciler.plan.models import Change, Statement
from reconciler.render import render_statement
from reconciler.resources.base import Diff, InspectContext, PlanContext, ResourceType
from reconciler.resources.document import Spec
from reconciler.resources.extensions.diff import ExtensionAction, diff_extensions

NOT_EXPORTED = frozenset({"plpgsql"})  # always there; not something a team declares


class Extensions(ResourceType[Catalog, Diff[ExtensionAction]]):
    kind: ClassVar[ChangeKind] = ChangeKind.EXTENSION
    section: ClassVar[str] = "extensions"
    phase: ClassVar[int] = 20

    def declared(self, spec: Spec) -> bool:
        return bool(spec.extensions)

    def read(self, ctx: PlanContext) -> Catalog:
        return ctx.catalog  # the catalog reads the declared extensions

    def diff(self, ctx: PlanContext, live: Catalog) -> Diff[ExtensionAction]:
        return diff_extensions(ctx.spec, live)

    def changes(self, diff: Diff[ExtensionAction]) -> list[tuple[int, Change]]:
        return [(self.phase, extension_change(a)) for a in diff.actions]

    def export(self, ctx: InspectContext) -> dict[str, Any]:
        names = sorted(name for name, ext in ctx.catalog.extensions.items()
                       if ext.installed_version and name not in NOT_EXPORTED)
        return {"extensions": names} if names else {}


def extension_change(action: ExtensionAction) -> Change:
    """CREATE EXTENSION or ALTER EXTENSION … UPDATE for one declared extension."""
    ext = action.spec
    if action.action == "create":
        sql = render_statement("extensions/create_extension", name=ext.name, schema=ext.schema_, version=ext.version)
    else:
        sql = render_statement("extensions/update_extension", name=ext.name, version=ext.version)
    return Change(kind=ChangeKind.EXTENSION, action=Action(action.action), name=ext.name, reason=action.reason,
                  statements=(Statement(sql=sql),),
                  details={"version": ext.version, "installed_version": action.installed_version})
