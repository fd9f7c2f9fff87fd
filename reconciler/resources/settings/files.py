"""postgres/postgresql.conf: every managed setting, with where it came from and whether it needs a
restart. A value from ``${ENV}`` is not written (it may hold a secret): ``apply`` sets it."""

from __future__ import annotations

from pathlib import Path

from reconciler.facts.settings import builtin_settings
from reconciler.render import render
from reconciler.render.files import RenderedFile
from reconciler.resources.document import Spec
from reconciler.resources.settings.desired import DesiredSetting, desired_settings

POSTGRES_CONF = Path("postgres/postgresql.conf")


def postgres_conf(spec: Spec, spec_file: str) -> RenderedFile:
    """Every managed setting, with where it came from and whether it needs a restart."""
    major = spec.target_major
    defs = builtin_settings(major)
    rows = []
    for lower, want in sorted(desired_settings(spec, major).items()):
        defn = defs.get(lower)
        rows.append({"name": lower, "text": want.text, "source": want.source, "path": _path(want),
                     "effect": defn.effect if defn else "restart", "from_env": want.from_env})
    return RenderedFile(POSTGRES_CONF, render("settings/postgresql.conf.j2", settings=rows, spec_file=spec_file))


def _path(want: DesiredSetting) -> list[str]:
    return [str(p) for p in want.path]
