"""Declared extensions versus installed ones: pure functions, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from reconciler.base.kinds import ChangeKind, Note
from reconciler.catalog.models import Catalog
from reconciler.resources.diffs import Diff
from reconciler.resources.document import Spec
from reconciler.resources.extensions.spec import ExtensionSpec


@dataclass(frozen=True)
class ExtensionAction:
    action: Literal["create", "update"]
    spec: ExtensionSpec
    reason: str
    installed_version: str | None = None


def diff_extensions(spec: Spec, catalog: Catalog) -> Diff[ExtensionAction]:
    """Missing extensions are created; a declared version differing from the installed one is
    an update. Extensions the server does not have are problems (nothing can create them)."""
    out: Diff[ExtensionAction] = Diff()
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
            out.notes.append(Note(kind=ChangeKind.EXTENSION, name=ext.name,
                                  message=f"installed in schema {live.schema}, the spec says {ext.schema_}; "
                                          f"pgrecon does not move extensions"))
    return out
