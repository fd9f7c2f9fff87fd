"""Declared role and database settings versus the live ones: pure, no I/O.

Values are compared typed and in each setting's base unit (``64MB`` equals ``65536`` kB), by the
one rule every setting follows (:func:`reconciler.facts.settings.normalize`). A setting the server
does not have (with a "did you mean"), one that cannot be set per role or database, a value out of
range, a role or database that does not exist — each is a located problem. Values set outside the
spec are reported, and reset only with ``prune_unmanaged_role_settings``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Literal

from reconciler.base.kinds import ChangeKind, Note, SpecPath
from reconciler.facts.settings import SettingDef, SettingValueError, display, normalize, shown
from reconciler.resources.diffs import Diff
from reconciler.resources.role_settings.spec import RoleSettingsEntry, describe_scope

SETTABLE = frozenset({"user", "superuser", "backend", "superuser-backend"})
"""Contexts PostgreSQL lets ALTER ROLE / ALTER DATABASE … SET set (applied at login)."""


@dataclass(frozen=True)
class LiveRoleSettings:
    """``values``: ``(role, database) -> {lower-case name: (name, text)}`` as PostgreSQL keeps them;
    ``here``: the scopes that apply in this database (the others belong to databases the spec
    names); the roles and databases that exist; the definitions of every setting named."""

    values: dict[tuple[str, str], dict[str, tuple[str, str]]] = field(default_factory=dict)
    here: frozenset[tuple[str, str]] = frozenset()
    roles: frozenset[str] = frozenset()
    databases: frozenset[str] = frozenset()
    definitions: dict[str, SettingDef] = field(default_factory=dict)
    known: frozenset[str] = frozenset()   # every setting name the server has (for "did you mean")


@dataclass(frozen=True)
class RoleSettingAction:
    """``set`` (or ``reset``) ``name`` for ``role`` / ``database`` (``""``: not that part)."""

    action: Literal["set", "reset"]
    role: str
    database: str
    name: str
    text: str | None
    current: str
    desired: str

    @property
    def label(self) -> str:
        """``work_mem (role reporting)``: how the plan names the change."""
        return f"{self.name} ({describe_scope(self.role, self.database)})"


def _note(scope: tuple[str, str], name: str, message: str) -> Note:
    return Note(kind=ChangeKind.ROLE_SETTING, name=f"{name} ({describe_scope(*scope)})", message=message)


def _value(defn: SettingDef, text: str) -> object:
    try:
        return normalize(defn, text)
    except SettingValueError:
        return text


def _entry_problems(i: int, entry: RoleSettingsEntry, live: LiveRoleSettings) -> list[tuple[SpecPath, str]]:
    problems: list[tuple[SpecPath, str]] = []
    if entry.role and entry.role not in live.roles:
        problems.append((("role_settings", i, "role"), f"role {entry.role} does not exist"))
    if entry.database and entry.database not in live.databases:
        problems.append((("role_settings", i, "database"), f"database {entry.database} does not exist"))
    return problems


def _setting_problem(name: str, text: str, defn: SettingDef | None, live: LiveRoleSettings) -> str | None:
    if defn is None:
        if "." in name:
            return None   # an extension's setting: PostgreSQL keeps it as text
        close = difflib.get_close_matches(name.lower(), sorted(live.known), n=1)
        return f"the server has no setting {name!r}" + (f" (did you mean {close[0]}?)" if close else "")
    if defn.context not in SETTABLE:
        return (f"{name} cannot be set per role or database (context {defn.context}); set it in "
                f"postgres.settings instead")
    try:
        normalize(defn, text)
    except SettingValueError as exc:
        return f"{name}: {exc}"
    return None


def diff_role_settings(entries: list[RoleSettingsEntry], live: LiveRoleSettings,
                       prune: bool) -> Diff[RoleSettingAction]:
    """Actions that make the live role and database settings the declared ones."""
    out: Diff[RoleSettingAction] = Diff()
    declared: set[tuple[str, str]] = set()
    for i, entry in enumerate(entries):
        problems = _entry_problems(i, entry, live)
        out.problems += problems
        if problems:
            continue
        declared.add(entry.scope)
        current = live.values.get(entry.scope, {})
        for name, text in entry.settings.items():
            defn = live.definitions.get(name.lower())
            problem = _setting_problem(name, text, defn, live)
            if problem:
                out.problems.append((("role_settings", i, "settings", name), problem))
                continue
            have = current.get(name.lower())
            if defn is None:
                same = have is not None and have[1] == text
                shown_now, shown_want = (have[1] if have else "(default)"), text
            else:
                same = have is not None and _value(defn, have[1]) == _value(defn, text)
                shown_now = display(defn, _value(defn, have[1])) if have else "(default)"
                shown_want = display(defn, normalize(defn, text))
            if not same:
                out.actions.append(RoleSettingAction("set", *entry.scope, name, text,
                                                     shown(name, shown_now), shown(name, shown_want)))
    _unmanaged(entries, live, declared, prune, out)
    return out


def _unmanaged(entries: list[RoleSettingsEntry], live: LiveRoleSettings, declared: set[tuple[str, str]],
               prune: bool, out: Diff[RoleSettingAction]) -> None:
    """Values set outside the spec, where they apply in this database (or in a database it names)."""
    wanted = {e.scope: {n.lower() for n in e.settings} for e in entries}
    for scope in sorted(live.values):
        if scope not in live.here and scope not in declared:
            continue
        for lower, (name, text) in sorted(live.values[scope].items()):
            if lower in wanted.get(scope, set()):
                continue
            if prune:
                out.actions.append(RoleSettingAction("reset", *scope, name, None, shown(name, text), "(default)"))
            else:
                out.notes.append(_note(scope, name, f"set to {shown(name, repr(text))} outside the spec (kept)"))
