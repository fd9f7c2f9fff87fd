"""The files rendered from a spec: ``postgres/postgresql.conf``, ``pgbouncer/pgbouncer.ini`` and
``pgbouncer/userlist.txt``.

``render_files`` is pure but for reading the environment (passwords) and an existing userlist (to
keep a verifier that still matches). The userlist holds secrets: it is written with mode 0600, it
is never compared or printed by ``render --check``, and it is skipped (with a warning) when a
password's environment variable is not set.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.base.errors import SpecError
from reconciler.base.files import write_atomic
from reconciler.facts.pgbouncer import normalize as pgbouncer_value
from reconciler.facts.settings import builtin_settings
from reconciler.render import render
from reconciler.resources.document import Spec
from reconciler.resources.pgbouncer import scram
from reconciler.resources.pgbouncer.spec import PgbouncerSpec
from reconciler.resources.settings.desired import DesiredSetting, desired_settings

POSTGRES_CONF = Path("postgres/postgresql.conf")
PGBOUNCER_INI = Path("pgbouncer/pgbouncer.ini")
USERLIST = Path("pgbouncer/userlist.txt")


@dataclass(frozen=True)
class RenderedFile:
    path: Path            # relative to the output directory
    content: str
    secret: bool = False  # written 0600, never printed or compared

    @property
    def mode(self) -> int:
        return 0o600 if self.secret else 0o644


@dataclass
class Rendered:
    files: list[RenderedFile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def postgres_conf(spec: Spec, spec_file: str) -> RenderedFile:
    """Every managed setting, with where it came from and whether it needs a restart."""
    major = spec.target_major
    defs = builtin_settings(major)
    rows = []
    for lower, want in sorted(desired_settings(spec, major).items()):
        defn = defs.get(lower)
        rows.append({"name": lower, "text": want.text, "source": want.source, "path": _path(want),
                     "effect": defn.effect if defn else "restart", "from_env": want.from_env})
    return RenderedFile(POSTGRES_CONF, render("postgresql.conf.j2", settings=rows, spec_file=spec_file))


def _path(want: DesiredSetting) -> list[str]:
    return [str(p) for p in want.path]


def _pgbouncer(spec: Spec) -> PgbouncerSpec:
    if spec.pgbouncer is None:
        raise ValueError("the spec has no pgbouncer section")
    return spec.pgbouncer


def pgbouncer_settings(spec: Spec) -> list[tuple[str, str]]:
    """``[pgbouncer]`` keys and values as PgBouncer shows them, in a fixed order."""
    pb = _pgbouncer(spec)
    pairs = [("listen_addr", pb.listen_addr), ("listen_port", str(pb.listen_port)), ("auth_type", pb.auth_type),
             ("auth_file", pb.auth_file)]
    if pb.admin_users:
        pairs.append(("admin_users", ",".join(pb.admin_users)))
    if pb.stats_users:
        pairs.append(("stats_users", ",".join(pb.stats_users)))
    pairs += [(key, pgbouncer_value(key, value)) for key, value in sorted(pb.settings.items())]
    return pairs


def pgbouncer_ini(spec: Spec, spec_file: str) -> RenderedFile:
    """pgbouncer.ini: databases, per-user settings, and the [pgbouncer] section."""
    pb = _pgbouncer(spec)
    databases = []
    for name, db in sorted(pb.databases.items()):
        params = [(key, getattr(db, key)) for key in ("host", "port", "dbname", "user", "auth_user", "pool_size",
                                                       "min_pool_size", "reserve_pool", "max_db_connections",
                                                       "pool_mode", "connect_query", "client_encoding",
                                                       "datestyle", "timezone") if getattr(db, key) is not None]
        databases.append((name, params))
    users = [(u.name, [(k, getattr(u, k)) for k in ("pool_mode", "max_user_connections") if getattr(u, k) is not None])
             for u in pb.users]
    users = [(name, params) for name, params in users if params]
    text = render("pgbouncer.ini.j2", databases=databases, users=users, settings=pgbouncer_settings(spec),
                  spec_file=spec_file)
    return RenderedFile(PGBOUNCER_INI, text)


def userlist(spec: Spec, existing: str | None) -> tuple[RenderedFile | None, list[str]]:
    """userlist.txt with SCRAM verifiers; keeps an existing verifier that still matches."""
    old = {}
    for line in (existing or "").splitlines():
        parts = line.split('"')
        if len(parts) >= 4:
            old[parts[1]] = parts[3]
    entries, warnings = [], []
    for i, user in enumerate(_pgbouncer(spec).users):
        if user.password is None:
            continue
        try:
            password = spec.secret(("pgbouncer", "users", i, "password"), user.password)
        except SpecError as exc:
            warnings.append(f"userlist.txt not written: {exc.problems[0].message} (pgbouncer.users[{i}].password)")
            return None, warnings
        keep = old.get(user.name)
        entries.append((user.name, keep if keep and scram.matches(keep, password) else scram.verifier(password)))
    if not entries:
        return None, warnings
    return RenderedFile(USERLIST, render("userlist.txt.j2", users=entries), secret=True), warnings


def render_files(spec: Spec, out_dir: Path, spec_file: str = "schema.yaml", secrets: bool = True) -> Rendered:
    """All files the spec asks for (those of its ``postgres`` and ``pgbouncer`` sections);
    without ``secrets`` the userlist (which needs the passwords) is left out."""
    result = Rendered()
    if spec.postgres is not None:
        result.files.append(postgres_conf(spec, spec_file))
    if spec.pgbouncer is not None:
        result.files.append(pgbouncer_ini(spec, spec_file))
    if spec.pgbouncer is not None and secrets:
        existing = out_dir / USERLIST
        users, warnings = userlist(spec, existing.read_text() if existing.exists() else None)
        result.warnings += warnings
        if users is not None:
            result.files.append(users)
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
