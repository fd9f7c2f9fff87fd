"""Turn diffs into an ordered list of typed changes with their statements.

Order: extensions first (indexes may need their operator classes), then leftovers of interrupted
applies are cleared, then renames, creates, rebuilds, replaces and attaches, and drops of
unmanaged indexes, so a table never has fewer indexes in the middle of an apply than at either
end of it; last, indexes built under a temporary name because a dropped index held theirs are
renamed.
"""

from __future__ import annotations

from ..diff.extensions import ExtensionAction
from ..diff.indexes import IndexAction, PartitionStep, temp_index_name
from ..diff.partitions import PartitionAction
from ..diff.settings import SettingAction
from ..diff.pgbouncer import PgbouncerDiff
from ..diff.tables import TableStorageAction
from ..render import render_statement
from .models import Change, Hazard, Statement

SHARE_UPDATE_EXCLUSIVE = "SHARE UPDATE EXCLUSIVE"
SHARE = "SHARE"
ACCESS_EXCLUSIVE = "ACCESS EXCLUSIVE"

_INDEX_ORDER = {"rename": 1, "create": 2, "rebuild": 3, "replace": 4, "attach": 5, "drop": 6}


def extension_change(action: ExtensionAction) -> Change:
    """CREATE EXTENSION or ALTER EXTENSION … UPDATE for one declared extension."""
    ext = action.spec
    if action.action == "create":
        sql = render_statement("create_extension", name=ext.name, schema=ext.schema_, version=ext.version)
    else:
        sql = render_statement("update_extension", name=ext.name, version=ext.version)
    return Change(kind="extension", action=action.action, name=ext.name, reason=action.reason,
                  statements=(Statement(sql=sql),),
                  details={"version": ext.version, "installed_version": action.installed_version})


def index_changes(actions: list[IndexAction]) -> list[Change]:
    """One change per index action, leftovers first and prunes last."""
    def order(a: IndexAction) -> tuple:
        rank = 0 if a.leftover else (len(_INDEX_ORDER) + 1 if a.rename_from else _INDEX_ORDER[a.action])
        return (rank, a.table.key, a.name)
    return [index_change(a) for a in sorted(actions, key=order)]


def _build(index, name: tuple[str, str], table: tuple[str, str]) -> Statement:
    return Statement(sql=render_statement("create_index", index=index, name=name[1], table=table,
                                          concurrently=True, only=False),
                     transactional=False, lock=SHARE_UPDATE_EXCLUSIVE, timeout="build", builds=name)


def _create_only(index, name: str, table: tuple[str, str]) -> Statement:
    return Statement(sql=render_statement("create_index", index=index, name=name, table=table,
                                          concurrently=False, only=True), lock=SHARE)


def _drop(schema: str, name: str, partitioned: bool, if_exists: bool = False) -> Statement:
    if partitioned:  # DROP INDEX CONCURRENTLY does not work on partitioned indexes
        return Statement(sql=render_statement("drop_index", index=(schema, name), concurrently=False,
                                              if_exists=if_exists), lock=ACCESS_EXCLUSIVE)
    return Statement(sql=render_statement("drop_index", index=(schema, name), concurrently=True,
                                          if_exists=if_exists), transactional=False, lock=SHARE_UPDATE_EXCLUSIVE)


def _rename(schema: str, old: str, new: str) -> Statement:
    return Statement(sql=render_statement("rename_index", index=(schema, old), new_name=new),
                     lock=SHARE_UPDATE_EXCLUSIVE)


def _attach(parent: tuple[str, str], child: tuple[str, str]) -> Statement:
    return Statement(sql=render_statement("attach_index", parent=parent, child=child),
                     lock=SHARE_UPDATE_EXCLUSIVE)


def partition_statements(index, parent: tuple[str, str], steps: tuple[PartitionStep, ...]) -> list[Statement]:
    """Statements that give every partition in ``steps`` a child of the partitioned index ``parent``."""
    out: list[Statement] = []
    for step in steps:
        part = step.partition
        child = (part.schema, step.child)
        if step.drop_first:
            out.append(_drop(part.schema, step.drop_first, part.partitioned, if_exists=True))
        if step.action == "build":
            out.append(_build(index, child, (part.schema, part.name)))
            out.append(_attach(parent, child))
        elif step.action == "attach":
            out.append(_attach(parent, child))
        else:
            if not step.exists:
                out.append(_create_only(index, step.child, (part.schema, part.name)))
            out.extend(partition_statements(index, child, step.steps))
            if not step.exists:
                out.append(_attach(parent, child))
    return out


def _new_index(index, schema: str, name: str, action: IndexAction) -> list[Statement]:
    """Statements that build index ``name`` with all its partitions."""
    table = (action.table.schema, action.table.name)
    if not action.table.partitioned:
        return [_build(index, (schema, name), table)]
    return [_create_only(index, name, table), *partition_statements(index, (schema, name), action.partitions)]


def index_change(action: IndexAction) -> Change:
    """The statements and hazards of one index action."""
    table = action.table
    schema = table.schema
    spec = action.desired.spec if action.desired else None
    hazards: list[Hazard] = []
    statements: list[Statement] = []
    details: dict = {}
    if action.desired is not None:
        details["definition"] = render_statement("create_index", index=spec, name=spec.name,
                                                 table=(schema, table.name), concurrently=False, only=False)
    if action.action == "create":
        statements = _new_index(spec, schema, action.build_as or action.name, action)
        if action.build_as:
            details["built_as"] = action.build_as
    elif action.action == "rename":
        old = action.rename_from or action.live.name
        statements = [*partition_statements(spec, (schema, old), action.partitions), _rename(schema, old, action.name)]
        details["from"] = old
    elif action.action == "attach":
        statements = partition_statements(spec, (schema, action.name), action.partitions)
    elif action.action == "rebuild":
        statements = [_drop(schema, action.live.name, action.live.partitioned, if_exists=True),
                      *_new_index(spec, schema, action.name, action)]
    elif action.action == "replace":
        if action.adopt is not None:
            new_name = action.adopt.name
            statements = list(partition_statements(spec, (schema, new_name), action.partitions))
        else:
            new_name = temp_index_name(schema, table.name, action.name)
            statements = _new_index(spec, schema, new_name, action)
        statements += [_drop(schema, action.live.name, action.live.partitioned),
                       _rename(schema, new_name, action.name)]
        if action.live.valid:
            hazards.append(Hazard.INDEX_REBUILD)
    elif action.action == "drop":
        statements = [_drop(schema, action.name, action.live.partitioned, if_exists=action.leftover)]
        if not action.leftover:
            hazards.append(Hazard.INDEX_DROP)
    else:  # pragma: no cover - the diff produces only the actions above
        raise ValueError(f"unknown index action {action.action}")
    if any(s.lock == ACCESS_EXCLUSIVE for s in statements):
        hazards.append(Hazard.TABLE_LOCK)
    if action.partitions:
        details["partitions"] = _count_steps(action.partitions)
    return Change(kind="index", action=action.action, name=action.name, table=table.key,
                  reason=action.reason, statements=tuple(statements), hazards=tuple(hazards), details=details)


def _count_steps(steps: tuple[PartitionStep, ...]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for step in steps:
        counts[step.action] = counts.get(step.action, 0) + 1
        for key, value in _count_steps(step.steps).items():
            counts[key] = counts.get(key, 0) + value
    return counts


def partition_changes(actions: list[PartitionAction]) -> tuple[list[Change], list[Change]]:
    """(creates, retirements): creates run after index changes, retirements last."""
    creates = [partition_change(a) for a in actions if a.action == "create"]
    retire = [partition_change(a) for a in actions if a.action != "create"]
    return creates, retire


def partition_change(action: PartitionAction) -> Change:
    """The statements and hazards of one partition action."""
    parent = (action.parent.schema, action.parent.name)
    name = (action.schema, action.name)
    hazards: list[Hazard] = []
    details: dict = {"from": action.lower, "to": action.upper} if action.lower is not None else {}
    if action.action == "create":
        default = (action.default.schema, action.default.name) if action.default is not None else None
        sql = render_statement("create_partition", name=name, parent=parent, column=action.column,
                               lower=action.lower, upper=action.upper, is_default=action.is_default,
                               default=default, columns=[c.name for c in action.parent.columns])
        statements = [Statement(sql=sql, block=True, lock=ACCESS_EXCLUSIVE if default else SHARE_UPDATE_EXCLUSIVE)]
        if action.rows_to_move or action.default_has_rows:
            # writes to the table wait while rows move and ATTACH scans the default partition
            hazards.append(Hazard.TABLE_LOCK)
        if action.rows_to_move:
            details["rows_to_move"] = action.rows_to_move
        if action.is_default:
            details["default"] = True
    elif action.action == "finalize":
        statements = [Statement(sql=render_statement("detach_partition", parent=parent, name=name,
                                                     concurrently=False, finalize=True),
                                transactional=False, lock=SHARE_UPDATE_EXCLUSIVE)]
    elif action.action == "detach":
        statements = [Statement(sql=render_statement("detach_partition", parent=parent, name=name,
                                                     concurrently=action.concurrently, finalize=False),
                                transactional=not action.concurrently,
                                lock=SHARE_UPDATE_EXCLUSIVE if action.concurrently else ACCESS_EXCLUSIVE)]
        hazards.append(Hazard.PARTITION_DETACH)
    else:  # drop: one atomic statement (a DETACH CONCURRENTLY then DROP could leave a detached table behind)
        statements = [Statement(sql=render_statement("drop_table", name=name), lock=ACCESS_EXCLUSIVE)]
        hazards.append(Hazard.PARTITION_DROP)
    if any(s.lock == ACCESS_EXCLUSIVE for s in statements) and action.action in ("detach", "drop"):
        hazards.append(Hazard.TABLE_LOCK)
    return Change(kind="partition", action=action.action, name=action.name, table=action.parent.key,
                  reason=action.reason, statements=tuple(statements), hazards=tuple(hazards), details=details)


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
        effect = {"restart": "takes effect after a restart", "reload": "takes effect on reload",
                  "new sessions": "new sessions only"}.get(action.effect, action.effect)
        reason = {"set": f"{action.current} -> {action.desired} ({effect})", "reload": "written, not yet reloaded",
                  "reset": f"set to {action.current} outside the spec"}[action.action]
        if action.source != "spec" and action.action == "set":
            reason += f"; derived: {action.source.removeprefix('tune: ')}"
        changes.append(Change(kind="setting", action=action.action, name=action.name, reason=reason,
                              statements=tuple(statements),
                              hazards=(Hazard.RESTART_REQUIRED,) if restart else (),
                              requires_restart=restart,
                              details={"from": action.current, "to": action.desired, "effect": action.effect,
                                       "source": action.source}))
    return changes


def pgbouncer_change(diff: PgbouncerDiff, config_file: str, content: str) -> Change:
    """Write pgbouncer.ini and RELOAD; settings RELOAD cannot change need a restart (never done)."""
    reloadable = {k: v[1] for k, v in diff.settings.items() if k not in diff.restart}
    parts = [f"{k} {old} -> {new}" for k, (old, new) in sorted(diff.settings.items())]
    parts += [f"database {name}: {what}" for name, what in sorted(diff.databases.items())]
    statements = (Statement(sql=f"-- write {config_file}", target="file", path=config_file, content=content),
                  Statement(sql="RELOAD", target="pgbouncer", expect=reloadable))
    return Change(kind="pgbouncer", action="reload", name="pgbouncer.ini", reason="; ".join(parts),
                  statements=statements,
                  hazards=(Hazard.RESTART_REQUIRED,) if diff.restart else (), requires_restart=bool(diff.restart),
                  details={"settings": {k: {"from": old, "to": new, "reload": k not in diff.restart}
                                        for k, (old, new) in diff.settings.items()},
                           "databases": diff.databases})


def table_storage_change(action: TableStorageAction) -> Change:
    """ALTER TABLE … SET (…), RESET (…) for one table's storage parameters."""
    table = action.table
    sql = render_statement("alter_table_storage", table=(table.schema, table.name), set_=action.set,
                           reset=action.reset)
    parts = [f"{k} {action.before.get(k, '(default)')} -> {v}" for k, v in sorted(action.set.items())]
    parts += [f"{k} {action.before[k]} -> (default)" for k in action.reset]
    return Change(kind="table-setting", action="set" if action.set else "reset", name=table.key, table=table.key,
                  reason="; ".join(parts), statements=(Statement(sql=sql, lock=SHARE_UPDATE_EXCLUSIVE),),
                  details={"set": action.set, "reset": action.reset})
