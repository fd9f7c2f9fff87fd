"""Pool and server must agree: cross-checks between ``pgbouncer:`` and the server's limits.

Pure functions. The server's limits come from the spec's ``postgres`` settings when declared,
else from the live server (plan) or PostgreSQL's defaults (render without a server).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reconciler.base.errors import Problem, SpecError
from reconciler.facts.pgbouncer import (
    PREPARED_STATEMENTS_SINCE,
    facts,
    keeps_prepared_statements,
    known,
    normalize,
    release_tuple,
)
from reconciler.facts.settings import builtin_settings
from reconciler.facts.settings import normalize as setting_value
from reconciler.resources.document import Spec
from reconciler.resources.pgbouncer.spec import PgbouncerSpec
from reconciler.resources.settings.desired import desired_settings


@dataclass(frozen=True)
class ServerLimits:
    """The server side of the checks, with where each number came from."""

    max_connections: int
    superuser_reserved_connections: int
    reserved_connections: int
    statement_timeout_ms: int
    source: str


@dataclass
class CheckResult:
    problems: list[tuple[tuple[Any, ...], str]] = field(default_factory=list)   # (path below pgbouncer, message)
    warnings: list[str] = field(default_factory=list)
    server_connections: int = 0


def setting(spec: PgbouncerSpec, key: str) -> str:
    """A ``[pgbouncer]`` setting as PgBouncer will hold it (spec, else PgBouncer's default)."""
    if key in spec.settings:
        return normalize(key, spec.settings[key])
    return (known(key) or {}).get("default") or "0"


def _int(spec: PgbouncerSpec, key: str) -> int:
    return int(float(setting(spec, key)))


def worst_case_connections(spec: PgbouncerSpec) -> tuple[int, list[str]]:
    """The most server connections the pools can open, and how that number is made up."""
    users = [u.name for u in spec.users] or ["(each user)"]
    default_pool, default_reserve = _int(spec, "default_pool_size"), _int(spec, "reserve_pool_size")
    global_db_cap, global_user_cap = _int(spec, "max_db_connections"), _int(spec, "max_user_connections")
    user_caps = {u.name: u.max_user_connections if u.max_user_connections is not None else global_user_cap
                 for u in spec.users}
    per_db = 0
    per_user: dict[str, int] = {}
    parts: list[str] = []
    for name, db in spec.databases.items():
        pool = db.pool_size if db.pool_size is not None else default_pool
        reserve = db.reserve_pool if db.reserve_pool is not None else default_reserve
        db_users = [db.user] if db.user else users
        total = len(db_users) * (pool + reserve)
        cap = db.max_db_connections if db.max_db_connections is not None else global_db_cap
        text = f"{name}: {len(db_users)} user{'s' if len(db_users) != 1 else ''} x ({pool} + {reserve} reserve)"
        if cap and total > cap:
            total, text = cap, text + f", capped by max_db_connections {cap}"
        parts.append(text)
        per_db += total
        for user in db_users:
            per_user[user] = per_user.get(user, 0) + pool + reserve
    by_users = sum(min(n, user_caps.get(u) or global_user_cap or n) for u, n in per_user.items())
    return min(per_db, by_users) if per_user else per_db, parts


def cross_check(spec: PgbouncerSpec, limits: ServerLimits, release: str) -> CheckResult:
    """Every cross-check; each failing one names both sides."""
    out = CheckResult()
    worst, parts = worst_case_connections(spec)
    out.server_connections = worst
    budget = (limits.max_connections - limits.superuser_reserved_connections - limits.reserved_connections
              - spec.headroom)
    if worst > budget:
        out.problems.append(((), f"PgBouncer may open {worst} server connections ({'; '.join(parts)}) but the "
                                 f"server allows {budget} (max_connections {limits.max_connections} - "
                                 f"superuser_reserved_connections {limits.superuser_reserved_connections} - "
                                 f"reserved_connections {limits.reserved_connections} - pgbouncer.headroom "
                                 f"{spec.headroom}; {limits.source}). Lower the pool sizes or raise max_connections"))
    default_pool, min_pool = _int(spec, "default_pool_size"), _int(spec, "min_pool_size")
    if min_pool > default_pool:
        out.problems.append((("settings", "min_pool_size"),
                             f"min_pool_size {min_pool} is larger than default_pool_size {default_pool}"))
    for name, db in spec.databases.items():
        pool = db.pool_size if db.pool_size is not None else default_pool
        low = db.min_pool_size if db.min_pool_size is not None else min_pool
        if low > pool:
            out.problems.append((("databases", name, "min_pool_size"),
                                 f"min_pool_size {low} of {name} is larger than its pool_size {pool}"))
    max_client = _int(spec, "max_client_conn")
    if max_client < worst:
        out.problems.append((("settings", "max_client_conn"),
                             f"max_client_conn {max_client} is below the {worst} server connections the pools "
                             f"may open; clients would be refused before the pools are used"))
    if spec.prepared_statements and pools_transactions(spec):
        if not keeps_prepared_statements(release):
            out.problems.append((("prepared_statements",),
                                 f"PgBouncer {release} cannot keep protocol-level prepared statements under "
                                 f"transaction pooling (max_prepared_statements needs {PREPARED_STATEMENTS_SINCE} "
                                 f"or later); use pool_mode session, or let the application not prepare statements"))
        elif _int(spec, "max_prepared_statements") <= 0:
            out.problems.append((("settings", "max_prepared_statements"),
                                 "pool_mode transaction with prepared statements in use needs "
                                 "max_prepared_statements > 0"))
    for key in spec.settings:
        info = known(key) or {}
        if release_tuple(info.get("since", "1.0")) > release_tuple(release):
            out.problems.append((("settings", key), f"{key} needs PgBouncer {info['since']} or later; the target "
                                                    f"is {release} (set pgbouncer.version if it is newer)"))
    query_timeout_ms = float(setting(spec, "query_timeout")) * 1000
    if query_timeout_ms > 0 and limits.statement_timeout_ms > 0 and query_timeout_ms <= limits.statement_timeout_ms:
        out.warnings.append(f"query_timeout {query_timeout_ms / 1000:g}s is not above the server's statement_timeout "
                            f"{limits.statement_timeout_ms / 1000:g}s: PgBouncer would cut queries the server still "
                            f"runs")
    return out


LIMIT_NAMES = ("max_connections", "superuser_reserved_connections", "reserved_connections", "statement_timeout")


def limits_from(values: dict[str, object], source: str) -> ServerLimits:
    """ServerLimits from normalised setting values (base units; a missing one counts as 0)."""

    def get(name: str) -> int:
        value = values.get(name)
        return int(value) if isinstance(value, (int, float, str)) and value != "" else 0

    return ServerLimits(get("max_connections"), get("superuser_reserved_connections"),
                        get("reserved_connections"), get("statement_timeout"), source)


def pool_modes(spec: PgbouncerSpec) -> set[str]:
    """Every pool mode the spec's PgBouncer uses: the global one, and those of databases and users."""
    return ({setting(spec, "pool_mode")} | {db.pool_mode for db in spec.databases.values() if db.pool_mode}
            | {u.pool_mode for u in spec.users if u.pool_mode})


def pools_transactions(spec: PgbouncerSpec) -> bool:
    """Whether a server connection may change hands between a client's transactions (or statements)."""
    return bool(pool_modes(spec) & {"transaction", "statement"})


def offline_limits(spec: Spec) -> ServerLimits:
    """The server's limits without a server: the spec's settings, else the defaults of its major."""
    major = spec.target_major
    defs = builtin_settings(major)
    desired = desired_settings(spec, major)
    values, declared = {}, []
    for name in LIMIT_NAMES:
        defn = defs.get(name)
        if defn is None:
            continue
        if name in desired:
            values[name] = setting_value(defn, desired[name].text)
            declared.append(name)
        else:
            values[name] = setting_value(defn, defn.boot_val or "0")
    source = (f"{', '.join(declared)} from the spec, " if declared else "") + f"PostgreSQL {major} defaults otherwise"
    return limits_from(values, source)


def target_release(spec: Spec) -> str:
    """The PgBouncer release to check against: the spec's ``pgbouncer.version``, else the release
    the facts were generated from."""
    return (spec.pgbouncer.version if spec.pgbouncer else None) or facts()["release"]


def runtime_problems(spec: Spec, limits: ServerLimits) -> list[tuple[tuple[Any, ...], str]]:
    """The application's pools (``runtime:``) against what they connect to: PgBouncer's
    ``max_client_conn`` when the spec has a PgBouncer, else the server's connection budget."""
    runtime = spec.runtime
    if runtime is None:
        return []
    worst = runtime.worst_case_connections
    made = (f"runtime.processes {runtime.processes} x (pool_size {runtime.pool_size} + max_overflow "
            f"{runtime.max_overflow})")
    if spec.pgbouncer is not None:
        max_client = _int(spec.pgbouncer, "max_client_conn")
        if worst > max_client:
            return [(("runtime",), f"the application's pools may open {worst} connections ({made}) but PgBouncer "
                                   f"accepts {max_client} clients (pgbouncer max_client_conn); lower the pools or "
                                   f"raise max_client_conn")]
        return []
    budget = limits.max_connections - limits.superuser_reserved_connections - limits.reserved_connections
    if worst > budget:
        return [(("runtime",), f"the application's pools may open {worst} connections ({made}) but the server "
                               f"allows {budget} (max_connections {limits.max_connections} - "
                               f"superuser_reserved_connections {limits.superuser_reserved_connections} - "
                               f"reserved_connections {limits.reserved_connections}; {limits.source}); lower the "
                               f"pools, put PgBouncer in front, or raise max_connections")]
    return []


def check_runtime(spec: Spec) -> None:
    """Raise a located :class:`~reconciler.base.errors.SpecError` when the spec's application
    pools could exceed PgBouncer or the server (checked offline: the spec's settings, else the
    defaults of its major)."""
    problems = runtime_problems(spec, offline_limits(spec))
    if problems:
        source = spec.source
        raise SpecError([source.problem(path, message) if source else Problem("spec", None, ".".join(path), message)
                         for path, message in problems])
