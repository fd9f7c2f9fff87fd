"""pgbouncer/pgbouncer.ini and pgbouncer/userlist.txt.

The userlist holds secrets: it is written with mode 0600, never compared or printed by ``render
--check``, and skipped (with a warning) when a password's environment variable is not set; a
verifier that still matches its password is kept.
"""

from __future__ import annotations

from pathlib import Path

from reconciler.base.errors import SpecError
from reconciler.facts.pgbouncer import normalize as pgbouncer_value
from reconciler.render import render
from reconciler.render.files import RenderedFile
from reconciler.resources.document import Spec
from reconciler.resources.pgbouncer import scram
from reconciler.resources.pgbouncer.spec import PgbouncerSpec

PGBOUNCER_INI = Path("pgbouncer/pgbouncer.ini")
USERLIST = Path("pgbouncer/userlist.txt")


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
    text = render("pgbouncer/pgbouncer.ini.j2", databases=databases, users=users, settings=pgbouncer_settings(spec),
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
    return RenderedFile(USERLIST, render("pgbouncer/userlist.txt.j2", users=entries), secret=True), warnings


def pgbouncer_files(spec: Spec, out_dir: Path, spec_file: str, secrets: bool) -> tuple[list[RenderedFile], list[str]]:
    """pgbouncer.ini, and with ``secrets`` the userlist (it needs the passwords); and warnings."""
    files = [pgbouncer_ini(spec, spec_file)]
    if not secrets:
        return files, []
    existing = out_dir / USERLIST
    users, warnings = userlist(spec, existing.read_text() if existing.exists() else None)
    return files + ([users] if users is not None else []), warnings
