"""What a helper may be handed: a psycopg connection, or a SQLAlchemy ``Connection``, ``Session``
or ``AsyncSession`` (the psycopg connection underneath is used, inside the caller's transaction).

SQLAlchemy is optional: it is looked for only among the modules already imported, so an
application without it never loads it.
"""

from __future__ import annotations

import sys
from typing import Any

import psycopg


class HandleError(TypeError):
    """The object given is neither a psycopg connection nor a SQLAlchemy connection or session."""


def _sqlalchemy_kind(handle: Any) -> str | None:
    if "sqlalchemy" not in sys.modules:
        return None
    from sqlalchemy.engine import Connection
    from sqlalchemy.orm import Session
    if isinstance(handle, Session):
        return "session"
    if isinstance(handle, Connection):
        return "connection"
    if "sqlalchemy.ext.asyncio" in sys.modules:
        from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
        if isinstance(handle, AsyncSession):
            return "async_session"
        if isinstance(handle, AsyncConnection):
            return "async_connection"
    return None


def _driver(dbapi: Any, handle: Any) -> Any:
    driver = getattr(dbapi, "driver_connection", None)
    if driver is None:
        raise HandleError(f"{type(handle).__name__} has no driver connection (is it closed?)")
    return driver


def _wrong(handle: Any, expected: str) -> HandleError:
    return HandleError(f"expected {expected}, got {type(handle).__module__}.{type(handle).__name__}")


def connection_of(handle: Any) -> tuple[psycopg.Connection[Any], bool]:
    """The psycopg connection behind ``handle``, and whether it belongs to a caller's SQLAlchemy
    transaction (joined: the helper neither commits nor rolls it back)."""
    if isinstance(handle, psycopg.Connection):
        return handle, False
    kind = _sqlalchemy_kind(handle)
    if kind == "session":
        handle = handle.connection()   # begins the session's transaction if none is open
        kind = "connection"
    if kind == "connection":
        if not handle.in_transaction():
            handle.begin()             # as SQLAlchemy's autobegin would: the caller commits
        driver = _driver(handle.connection, handle)
        if isinstance(driver, psycopg.Connection):
            return driver, True
        raise _wrong(driver, "SQLAlchemy on the psycopg driver (postgresql+psycopg://)")
    if kind in ("async_session", "async_connection"):
        raise _wrong(handle, "a sync connection (use the Async… helper with an AsyncSession)")
    raise _wrong(handle, "a psycopg Connection or a SQLAlchemy Connection or Session")


async def aconnection_of(handle: Any) -> tuple[psycopg.AsyncConnection[Any], bool]:
    """:func:`connection_of` for the asyncio helpers: a psycopg ``AsyncConnection``, or a
    SQLAlchemy ``AsyncConnection`` or ``AsyncSession``."""
    if isinstance(handle, psycopg.AsyncConnection):
        return handle, False
    kind = _sqlalchemy_kind(handle)
    if kind == "async_session":
        handle = await handle.connection()
        kind = "async_connection"
    if kind == "async_connection":
        if not handle.in_transaction():
            await handle.begin()
        driver = _driver(await handle.get_raw_connection(), handle)
        if isinstance(driver, psycopg.AsyncConnection):
            return driver, True
        raise _wrong(driver, "SQLAlchemy on the psycopg driver (postgresql+psycopg://)")
    if isinstance(handle, psycopg.Connection) or kind in ("session", "connection"):
        raise _wrong(handle, "an asyncio connection (use the sync helper with a sync connection)")
    raise _wrong(handle, "a psycopg AsyncConnection or a SQLAlchemy AsyncConnection or AsyncSession")
