"""Declared extensions versus installed ones: pure functions, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..catalog.models import Catalog
from ..spec.models import ExtensionSpec, Spec


@dataclass(frozen=True)
class ExtensionAction:
    action: Literal["create", "update"]
    spec: ExtensionSpec
    reason: str
    installed_version: str | None = None


@dataclass
class ExtensionDiff:
    actions: list[ExtensionAction] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[tuple[tuple, str]] = field(default_factory=list)


def diff_extensions(spec: Spec, catalog: Catalog) -> ExtensionDiff:
    """Missing extensions are created; a declared version differing from the installed one is
    an update. Extensions the server does not have are problems (nothing can create them)."""
    out = ExtensionDiff()
    for i, ext in enumerate(spec.extensions):
        live = catalog.extensions.get(ext.name)
        if live is None or (live.installed_version is None and not live.available):
            out.problems.append((("extensions", i), f"extension {ext.name} is not available on this server "
                                                    f"(its files must be installed on the database host first)"))
        elif live.installed_version is None:
            out.actions.append(ExtensionAction("create", ext, "not installed"))
        elif ext.version and ext.version != live.installed_version:
            out.actions.append(ExtensionAction("update", ext, f"installed {live.installed_version}, "
                                                              f"declared {ext.version}", live.installed_version))
        elif ext.schema_ and live.schema and ext.schema_ != live.schema:
            out.notes.append(f"extension {ext.name} is installed in schema {live.schema}, the spec says "
                             f"{ext.schema_}; pgrecon does not move extensions")
    return out
