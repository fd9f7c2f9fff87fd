"""Declared server settings versus a Patroni cluster: pure functions, no I/O.

On a Patroni cluster the settings belong to Patroni's dynamic configuration (``postgresql.parameters``
in the DCS), which Patroni writes on every member and keeps across failovers. A declared value
that differs from it is set there (``PATCH /config``). A value set with ``ALTER SYSTEM`` on a
member (postgresql.auto.conf) wins over Patroni's on that member only, is not replicated and is
lost on failover: when it shadows a value Patroni or the spec manages, it is drift, reset on that
member. Members that still run an old value (Patroni applies within ``loop_wait``) or wait for a
restart are reported, not changed again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from reconciler.catalog.models import LiveSettings
from reconciler.facts.settings import SettingDef, SettingValueError, display, normalize
from reconciler.resources.settings.desired import DesiredSetting
from reconciler.resources.settings.diff import SettingAction, SettingsDiff, note


@dataclass(frozen=True)
class MemberState:
    """One member's live settings (``None`` when it could not be read) and Patroni's view of it."""

    name: str
    role: str
    pending_restart: bool
    live: LiveSettings | None
    error: str | None = None


@dataclass(frozen=True)
class PatroniSettingAction(SettingAction):
    """``set`` a parameter in Patroni's dynamic configuration, or ``reset`` an ALTER SYSTEM value on
    one ``member``."""

    member: str | None = None


@dataclass
class PatroniSettingDiff(SettingsDiff[PatroniSettingAction]):
    """Patroni's dynamic configuration (and ALTER SYSTEM resets on the members it shadows)."""

    via: ClassVar[str] = "patroni"


def _value(defn: SettingDef, text: Any) -> object:
    try:
        return normalize(defn, str(text))
    except SettingValueError:
        return str(text)


def diff_patroni_settings(desired: dict[str, DesiredSetting], dynamic: dict[str, Any],
                          definitions: dict[str, SettingDef], members: list[MemberState],
                          prune: bool = False) -> PatroniSettingDiff:
    """Actions that make the cluster's settings the desired ones (see the module doc)."""
    out = PatroniSettingDiff()
    in_dcs = {name.lower(): value for name, value in dynamic.items()}
    for lower, want in sorted(desired.items()):
        defn = definitions.get(lower)
        if defn is None:
            out.problems.append((want.path, f"the server has no setting {want.name!r}"))
            continue
        if defn.context == "internal":
            out.problems.append((want.path, f"{want.name} is read-only (set when the server is built)"))
            continue
        try:
            value = normalize(defn, want.text)
        except SettingValueError as exc:
            out.problems.append((want.path, f"{want.name}: {exc}"))
            continue
        out.normalized[lower] = value
        current = in_dcs.get(lower)
        if current is None or _value(defn, current) != value:
            shown = display(defn, _value(defn, current)) if current is not None else "(not in Patroni's configuration)"
            out.actions.append(PatroniSettingAction("set", want.name, want.text, shown, display(defn, value),
                                                    defn.effect, want.source))
            continue
        for member in members:
            live = member.live.values.get(lower) if member.live else None
            if live is None or normalize(live.definition, live.setting) == value:
                continue
            if member.pending_restart or live.pending_restart or defn.effect == "restart":
                running = display(defn, _value(defn, live.setting))
                out.notes.append(note(want.name, f"member {member.name} runs {running}; {display(defn, value)} "
                                                  f"waits for a restart"))
            else:
                out.notes.append(note(want.name, f"member {member.name} still runs "
                                                  f"{display(defn, _value(defn, live.setting))} (Patroni applies "
                                                  f"{display(defn, value)} within loop_wait)"))
    managed = set(in_dcs) | set(desired)
    for member in members:
        if member.error:
            out.notes.append(note("", f"member {member.name} could not be read: {member.error}"))
        _shadows(member, managed, prune, out)
        if member.pending_restart:
            out.notes.append(note("", f"member {member.name} ({member.role}) has settings waiting for a restart "
                                       f"(pending_restart); `apply --allow-hazards restart-required --restart` "
                                       f"restarts it through Patroni"))
    return out


def _shadows(member: MemberState, managed: set[str], prune: bool, out: PatroniSettingDiff) -> None:
    """ALTER SYSTEM values on ``member``: drift when they shadow a managed value (or when pruning)."""
    seen: set[str] = set()
    for entry in reversed(member.live.files or () if member.live else ()):
        if not entry.auto_conf or not entry.name or entry.broken:
            continue
        lower = entry.name.lower()
        if lower in seen:
            continue
        seen.add(lower)
        if lower in managed or prune:
            why = "shadows the value Patroni manages" if lower in managed else "is not in the spec"
            out.actions.append(PatroniSettingAction(
                "reset", entry.name, None, entry.setting or "", "(Patroni's value)", "reload",
                f"set with ALTER SYSTEM on {member.name}; {why}", member.name))
        else:
            out.notes.append(note(entry.name, f"set with ALTER SYSTEM to {entry.setting!r} on member {member.name} "
                                               f"(postgresql.auto.conf): not replicated, lost on failover (kept)"))
