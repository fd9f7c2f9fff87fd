"""``pgrecon render``: the files the spec's kinds render (``postgres/postgresql.conf``,
``pgbouncer/pgbouncer.ini``, ``pgbouncer/userlist.txt``), written whole, or compared with what is
committed (``--check``, secrets left out).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.base.files import write_atomic
from reconciler.render.files import RenderedFile
from reconciler.resources.document import Spec
from reconciler.resources.registry import RESOURCE_TYPES


@dataclass
class Rendered:
    files: list[RenderedFile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def render_files(spec: Spec, out_dir: Path, spec_file: str = "schema.yaml", secrets: bool = True) -> Rendered:
    """All files the spec asks for (those of its ``postgres`` and ``pgbouncer`` sections);
    without ``secrets`` the userlist (which needs the passwords) is left out."""
    result = Rendered()
    for resource in RESOURCE_TYPES:
        if resource.declared(spec):
            files, warnings = resource.files(spec, out_dir, spec_file, secrets)
            result.files += files
            result.warnings += warnings
    return result


def write(out_dir: Path, files: list[RenderedFile]) -> list[Path]:
    """Write the files atomically (see :func:`~reconciler.base.files.write_atomic`), each created with
    its mode (0600 for secrets: never readable by others, not even for a moment); a symbolic link
    in a file's place is replaced, never written through."""
    written = []
    for f in files:
        path = out_dir / f.path
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, f.content, f.mode)
        written.append(path)
    return written


def stale(out_dir: Path, files: list[RenderedFile]) -> dict[str, str]:
    """Unified diffs of the non-secret files that differ from what is on disk, by path."""
    diffs = {}
    for f in files:
        if f.secret:
            continue
        path = out_dir / f.path
        current = path.read_text() if path.exists() else ""
        if current != f.content:
            diffs[str(path)] = "".join(difflib.unified_diff(current.splitlines(keepends=True),
                                                            f.content.splitlines(keepends=True),
                                                            fromfile=f"{f.path} (committed)",
                                                            tofile=f"{f.path} (from spec)"))
    return diffs
