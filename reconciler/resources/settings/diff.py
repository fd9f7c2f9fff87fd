"""Declared server settings versus the live server: pure functions, no I/O.

Values are compared in each setting's base unit (``256MB`` equals ``32768`` × 8kB). A value
already written to the configuration files but waiting for a restart is pending, not a change;
one written but not yet reloaded needs only a reload. Values set with ALTER SYSTEM that the spec
does not declare are reported, and reset only when the spec prunes unmanaged settings.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import ClassVar, Literal, TypeVar

from reconciler.base.kinds import ChangeKind, Note
from reconciler.catalog.models import LiveSettings
from reconciler.facts.settings import SettingDef, SettingValueError, display, normalize
from reconciler.facts.settings import shown as shown_value
from reconciler.resources.diffs import Diff
from reconciler.resources.settings.desired import DesiredSetting


@dataclass(frozen=True)
class SettingAction:
    """``set`` or ``reset`` a setting (``reload`` one already written); ``text`` is the value to
    write, ``current``/``desired`` what the plan shows."""

    action: Literal["set", "reset", "reload"]
    name: str
    text: str | None = None
    current: str = ""
    desired: str = ""
    effect: str = "reload"
    source: str = "spec"


A = TypeVar("A", bound=SettingAction)


@dataclass
class SettingsDiff(Diff[A]):
    """What either backend's diff finds; ``via`` names the backend that applies it, and
    ``normalized`` holds the declared values in each setting's base unit (PgBouncer's pool checks
    read ``max_connections`` there)."""

    via: ClassVar[str]
    normalized: dict[str, object] = field(default_factory=dict)    # lower-case name -> desired, base unit


@dataclass
class SettingDiff(SettingsDiff[SettingAction]):
    """ALTER SYSTEM on the server itself."""

    via: ClassVar[str] = "alter-system"


def note(name: str, message: str) -> Note:
    """A note about setting ``name`` (``""``: about the settings as a whole)."""
    return Note(kind=ChangeKind.SETTING, name=name, message=message)


def _file_value(live: LiveSettings, defn: SettingDef, name: str) -> object:
    entry = live.last_file_value(name)
    if entry is None or entry.setting is None:
        return None
    try:
        return normalize(defn, entry.setting)
    except SettingValueError:
        return None


def diff_settings(desired: dict[str, DesiredSetting], live: LiveSettings, modules: set[str],
                  prune: bool = False, major: int | None = None) -> SettingDiff:
    """Actions that make the server's settings the desired ones; ``modules`` are the extension and
    library names the server knows (settings with a dot belong to one of them)."""
    out = SettingDiff()
    for lower, want in sorted(desired.items()):
        current = live.values.get(lower)
        if current is None:
            _custom_setting(want, live, modules, out)
            continue
        defn = current.definition
        if defn.context == "internal":
            out.problems.append((want.path, f"{want.name} is read-only (set when the server is built)"))
            continue
        try:
            value = normalize(defn, want.text)
        except SettingValueError as exc:
            if want.derived:  # e.g. wal_compression lz4 on a server built without lz4
                out.notes.append(note(want.name, f"derived value {want.text} is not accepted by this server ({exc}); "
                                             f"left as it is"))
            else:
                out.problems.append((want.path, f"{want.name}: {exc}"))
            continue
        out.normalized[lower] = value
        now = normalize(defn, current.setting)
        if value == now:
            continue
        written = _file_value(live, defn, want.name)
        shown = (shown_value(want.name, display(defn, now)), shown_value(want.name, display(defn, value)))
        if written == value and defn.effect == "restart":
            out.notes.append(note(want.name, f"{shown[1]} is written and waits for a restart (now {shown[0]})"))
        elif written == value:
            out.actions.append(SettingAction("reload", want.name, want.text, *shown, defn.effect, want.source))
        else:
            out.actions.append(SettingAction("set", want.name, want.text, *shown, defn.effect, want.source))
    _unmanaged(desired, live, prune, out)
    for entry in live.files or ():
        if entry.broken:
            where = f"{entry.sourcefile}:{entry.sourceline}" if entry.sourcefile else "configuration"
            out.notes.append(note(entry.name or "", f"{where}: {entry.error}"))
    return out


def _custom_setting(want: DesiredSetting, live: LiveSettings, modules: set[str], out: SettingDiff) -> None:
    prefix = want.name.split(".")[0].lower() if "." in want.name else None
    if prefix is None or prefix not in modules:
        known = difflib.get_close_matches(want.name.lower(), list(live.values), n=1)
        hint = f" (did you mean {known[0]}?)" if known else ""
        if prefix is not None:
            hint = f" ({prefix} is not an extension or library this server knows)"
        out.problems.append((want.path, f"the server has no setting {want.name!r}{hint}"))
        return
    entry = live.last_file_value(want.name)
    if entry is not None and entry.setting == want.text:
        out.notes.append(note(want.name, f"{want.text} is written; it takes effect when {prefix} is loaded"))
        return
    out.actions.append(SettingAction("set", want.name, want.text, (entry.setting or "(unset)") if entry else "(unset)",
                                     want.text, "restart", want.source))


def _unmanaged(desired: dict[str, DesiredSetting], live: LiveSettings, prune: bool, out: SettingDiff) -> None:
    seen = set()
    for entry in reversed(live.files or ()):
        if not entry.auto_conf or not entry.name or entry.broken:
            continue
        lower = entry.name.lower()
        if lower in desired or lower in seen:
            continue
        seen.add(lower)
        if prune:
            out.actions.append(SettingAction("reset", entry.name, None, entry.setting or "", "(default)",
                                             "reload", "prune_unmanaged_settings"))
        else:
            value = shown_value(entry.name, repr(entry.setting))
            out.notes.append(note(entry.name, f"set with ALTER SYSTEM to {value} outside the spec (kept)"))
