"""The PgBouncer pool: cross-checked with the server's limits (worst-case connections against
``max_connections``, transaction pooling against prepared statements) and, when a running
PgBouncer is named (``admin_dsn``), compared with it: one change writes pgbouncer.ini and
RELOADs. It needs the settings' declared values (``needs``), so it is planned after them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from reconciler.base.kinds import Action, ChangeKind, Note
from reconciler.catalog.settings import read_settings
from reconciler.facts.pgbouncer import known
from reconciler.facts.pgbouncer import normalize as pgbouncer_value
from reconciler.facts.settings import normalize
from reconciler.plan.models import Change, Hazard, Statement
from reconciler.render.files import RenderedFile
from reconciler.resources.base import InspectContext, PlanContext, ResourceType
from reconciler.resources.diffs import Diff
from reconciler.resources.document import Spec
from reconciler.resources.pgbouncer.checks import (
    LIMIT_NAMES,
    cross_check,
    limits_from,
    runtime_problems,
    target_release,
)
from reconciler.resources.pgbouncer.diff import (
    DATABASE_FIELDS,
    LivePgbouncer,
    PgbouncerDiff,
    diff_pgbouncer,
    read_ini_pairs,
)
from reconciler.resources.pgbouncer.files import pgbouncer_files, pgbouncer_ini, pgbouncer_settings
from reconciler.resources.pgbouncer.live import admin_connect, read_live, show
from reconciler.resources.pgbouncer.spec import RESERVED_KEYS
from reconciler.resources.settings.diff import SettingsDiff


@dataclass
class PgbouncerState:
    """The server's limits (declared or live), a running PgBouncer (when named) and the file it reads."""

    limits: dict[str, object] = field(default_factory=dict)
    limits_source: str = ""
    live: LivePgbouncer | None = None
    on_disk: dict[str, str] | None = None


@dataclass
class PgbouncerChanges(Diff[PgbouncerDiff]):
    config_file: str = ""
    content: str = ""


class Pgbouncer(ResourceType[PgbouncerState, PgbouncerChanges]):
    kind: ClassVar[ChangeKind] = ChangeKind.PGBOUNCER
    section: ClassVar[str] = "pgbouncer"
    phase: ClassVar[int] = 80
    needs: ClassVar[tuple[ChangeKind, ...]] = (ChangeKind.SETTING,)   # max_connections as declared

    def declared(self, spec: Spec) -> bool:
        return spec.pgbouncer is not None

    def read(self, ctx: PlanContext) -> PgbouncerState:
        pb = ctx.spec.pgbouncer
        assert pb is not None
        live_limits = read_settings(ctx.conn, list(LIMIT_NAMES)).values
        values: dict[str, object] = {name: normalize(s.definition, s.setting) for name, s in live_limits.items()}
        settings = ctx.needed(ChangeKind.SETTING, SettingsDiff)   # the spec's postgres settings, when it has some
        declared = settings.normalized if settings is not None else {}
        names = [n for n in LIMIT_NAMES if n in declared]
        values.update({n: declared[n] for n in names})
        source = (f"{', '.join(names)} from the spec, " if names else "") + "the live server otherwise"
        live = read_live(ctx.spec.secret(("pgbouncer", "admin_dsn"), pb.admin_dsn)) if pb.admin_dsn else None
        on_disk = None
        if live is not None and pb.config_file and Path(pb.config_file).exists():
            on_disk = read_ini_pairs(Path(pb.config_file).read_text())
        return PgbouncerState(values, source, live, on_disk)

    def diff(self, ctx: PlanContext, live: PgbouncerState) -> PgbouncerChanges:
        spec = ctx.spec
        pb = spec.pgbouncer
        assert pb is not None
        out = PgbouncerChanges()
        release = live.live.version if live.live else target_release(spec)
        limits = limits_from(live.limits, live.limits_source)
        checked = cross_check(pb, limits, release)
        out.problems += [(("pgbouncer", *path), message) for path, message in checked.problems]
        out.problems += runtime_problems(spec, limits)
        out.notes += [Note(kind=ChangeKind.PGBOUNCER, name="", message=w) for w in checked.warnings]
        if live.live is None or out.problems:
            return out
        databases = {name: db.model_dump(exclude_none=True) for name, db in pb.databases.items()}
        found = diff_pgbouncer(pgbouncer_settings(spec), databases, live.live, live.on_disk)
        out.notes += [Note(kind=ChangeKind.PGBOUNCER, name=k, message="written; takes effect when PgBouncer restarts")
                      for k in found.pending]
        if found.empty:
            return out
        if not pb.config_file:
            out.problems.append((("pgbouncer", "config_file"),
                                 "the running PgBouncer differs from the spec; set config_file to the pgbouncer.ini "
                                 "it reads so that apply can write it"))
            return out
        out.actions.append(found)
        out.config_file = pb.config_file
        out.content = pgbouncer_ini(spec, spec.source.file if spec.source else "schema.yaml").content
        return out

    def changes(self, diff: PgbouncerChanges) -> list[tuple[int, Change]]:
        return [(self.phase, pgbouncer_change(found, diff.config_file, diff.content)) for found in diff.actions]

    def export(self, ctx: InspectContext) -> dict[str, Any]:
        if not ctx.pgbouncer_dsn:
            return {}
        return {"pgbouncer": export_pgbouncer(ctx.pgbouncer_dsn)}

    def files(self, spec: Spec, out_dir: Path, spec_file: str,
              secrets: bool) -> tuple[list[RenderedFile], list[str]]:
        return pgbouncer_files(spec, out_dir, spec_file, secrets)


_TOP_LEVEL = ("listen_addr", "listen_port", "auth_type", "auth_file")
_NOT_EXPORTED = frozenset({"conffile", "pidfile", "logfile", "unix_socket_dir", "user"})  # of this instance


def _env_name(user: str) -> str:
    return "PGBOUNCER_PASSWORD_" + (re.sub(r"[^A-Za-z0-9]+", "_", user).strip("_").upper() or "USER")


def export_pgbouncer(dsn: str) -> dict[str, Any]:
    """A running PgBouncer as a ``pgbouncer:`` section: its listen address, auth, databases,
    users (passwords as ``${PGBOUNCER_PASSWORD_<USER>}`` placeholders: never read, never
    written) and the settings that differ from PgBouncer's defaults."""
    live = read_live(dsn)
    with admin_connect(dsn) as conn:
        users = [row for row in show(conn, "USERS") if row.get("name") not in ("pgbouncer",)]
    config = {key: value or "" for key, (value, _) in live.config.items()}
    out: dict[str, Any] = {}
    for key in _TOP_LEVEL:
        if config.get(key) not in (None, ""):
            out[key] = int(config[key]) if key == "listen_port" else config[key]
    for key in ("admin_users", "stats_users"):
        if config.get(key):
            out[key] = [name.strip() for name in config[key].split(",") if name.strip()]
    databases = _exported_databases(live.databases, config)
    if databases:
        out["databases"] = databases
    if users:
        out["users"] = [{"name": row["name"], "password": "${" + _env_name(row["name"]) + "}"} for row in users]
    settings = _exported_settings(config)
    if settings:
        out["settings"] = settings
    return out


_POOL_FIELDS = ("pool_size", "reserve_pool", "min_pool_size", "max_db_connections")
_NUMBER_FIELDS = ("port", *_POOL_FIELDS)


def _exported_databases(rows: dict[str, dict[str, Any]], config: dict[str, str]) -> dict[str, dict[str, Any]]:
    """``[databases]`` entries as the spec writes them: what each entry sets of its own."""
    databases = {}
    for name, row in sorted(rows.items()):
        if name == "pgbouncer":
            continue
        entry = {}
        for key, column in DATABASE_FIELDS.items():
            value = row.get(column)
            if value in (None, "") or (key in _POOL_FIELDS and _is_default_pool_value(key, value, config)):
                continue
            entry[key] = int(value) if key in _NUMBER_FIELDS else value
        databases[name] = entry
    return databases


def _exported_settings(config: dict[str, str]) -> dict[str, str]:
    """The settings that differ from PgBouncer's defaults (but those written elsewhere in the spec)."""
    settings = {}
    for key, value in sorted(config.items()):
        info = known(key)
        if info is None or key in RESERVED_KEYS or key in _NOT_EXPORTED or value is None:
            continue
        try:
            default = info["default"] if info["default"] is not None else ""
            if pgbouncer_value(key, value) == pgbouncer_value(key, default):
                continue
        except ValueError:
            pass
        settings[key] = value
    return settings


def _is_default_pool_value(key: str, value: Any, config: dict[str, str]) -> bool:
    """A database row shows the global value when the entry sets none of its own."""
    global_key = {"pool_size": "default_pool_size", "reserve_pool": "reserve_pool_size",
                  "min_pool_size": "min_pool_size", "max_db_connections": "max_db_connections"}[key]
    return str(value) == str(config.get(global_key))


def pgbouncer_change(diff: PgbouncerDiff, config_file: str, content: str) -> Change:
    """Write pgbouncer.ini and RELOAD; settings RELOAD cannot change need a restart (never done)."""
    reloadable = {k: v[1] for k, v in diff.settings.items() if k not in diff.restart}
    parts = [f"{k} {old} -> {new}" for k, (old, new) in sorted(diff.settings.items())]
    parts += [f"database {name}: {what}" for name, what in sorted(diff.databases.items())]
    statements = (Statement(sql=f"-- write {config_file}", target="file", path=config_file, content=content),
                  Statement(sql="RELOAD", target="pgbouncer", expect=reloadable))
    return Change(kind=ChangeKind.PGBOUNCER, action=Action.RELOAD, name="pgbouncer.ini", reason="; ".join(parts),
                  statements=statements,
                  hazards=(Hazard.RESTART_REQUIRED,) if diff.restart else (), requires_restart=bool(diff.restart),
                  details={"settings": {k: {"from": old, "to": new, "reload": k not in diff.restart}
                                        for k, (old, new) in diff.settings.items()},
                           "databases": diff.databases})
