"""SQLAlchemy 2 engines on the psycopg driver, pooled as the spec says (``pip install
'pgrecon[sqlalchemy]'``).

>>> engine = engine_from_spec(spec, "postgresql://app@pgbouncer:6432/app")          # doctest: +SKIP
>>> engine = async_engine_from_spec(spec, "postgresql://app@pgbouncer:6432/app")    # doctest: +SKIP
>>> async with AsyncSession(engine) as session, session.begin():                    # doctest: +SKIP
...     await abatch_insert(session, "agents", rows)

The pool (``pool_size``, ``max_overflow``, ``pool_timeout``, ``pool_recycle``, ``pool_pre_ping``)
comes from the spec's ``runtime:`` section, which must fit PgBouncer's ``max_client_conn`` or the
server's ``max_connections`` (else a located spec error with the numbers). Behind PgBouncer in
transaction pooling, psycopg prepares statements only where the PgBouncer keeps them (1.21+ with
``max_prepared_statements``); elsewhere its automatic preparation is turned off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reconciler.runtime.pool import PoolSizing, pool_sizing
from reconciler.runtime.prepared import pooling_allows_prepare

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.ext.asyncio import AsyncEngine


def psycopg_url(url: str) -> Any:
    """``url`` (``postgresql://…``, ``postgres://…`` or already ``postgresql+psycopg://…``) on the
    psycopg driver, as a SQLAlchemy ``URL``."""
    from sqlalchemy.engine import make_url
    parsed = make_url(url.replace("postgres://", "postgresql://", 1) if url.startswith("postgres://") else url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"not a PostgreSQL URL: {parsed.render_as_string(hide_password=True)}")
    if parsed.get_driver_name() not in ("psycopg", "psycopg_async", "psycopg2", ""):
        raise ValueError(f"pgrecon's helpers need the psycopg driver, not {parsed.get_driver_name()}")
    return parsed.set(drivername="postgresql+psycopg")


def engine_arguments(spec: Any) -> dict[str, Any]:
    """``create_engine`` arguments for the spec's pool and PgBouncer."""
    sizing: PoolSizing = pool_sizing(spec)
    arguments: dict[str, Any] = {"pool_size": sizing.pool_size, "max_overflow": sizing.max_overflow,
                                 "pool_timeout": sizing.timeout_s, "pool_pre_ping": sizing.pre_ping,
                                 "pool_recycle": sizing.recycle_s if sizing.recycle_s else -1}
    if not pooling_allows_prepare(spec):
        arguments["connect_args"] = {"prepare_threshold": None}
    return arguments


def engine_from_spec(spec: Any, url: str, **kwargs: Any) -> Engine:
    """A SQLAlchemy ``Engine`` for ``url`` whose pool follows the spec; ``kwargs`` go to
    ``create_engine`` (and win)."""
    from sqlalchemy import create_engine
    return create_engine(psycopg_url(url), **{**engine_arguments(spec), **kwargs})


def async_engine_from_spec(spec: Any, url: str, **kwargs: Any) -> AsyncEngine:
    """:func:`engine_from_spec` for asyncio: an ``AsyncEngine`` on psycopg's async driver."""
    from sqlalchemy.ext.asyncio import create_async_engine
    return create_async_engine(psycopg_url(url), **{**engine_arguments(spec), **kwargs})
