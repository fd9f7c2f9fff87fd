"""Named statements executed through psycopg's protocol-level prepare (never SQL ``PREPARE``).

Behind PgBouncer in transaction pooling, a statement prepared on one server connection may be
executed on another. PgBouncer 1.21+ (``max_prepared_statements`` > 0) handles that; older ones do
not, and there the registry sends the same statements unnamed (still parsed once per execution,
safe on any server connection). :func:`pooling_allows_prepare` reads that from the spec.

>>> statements = PreparedStatements(server_side=True)
>>> statements.register("agent_by_template", "SELECT id FROM agents WHERE template = %s")
>>> rows = statements.execute(conn, "agent_by_template", ("explorer",)).fetchall()   # doctest: +SKIP
"""

from __future__ import annotations

import threading
from typing import Any, Self

import psycopg

from reconciler.facts.pgbouncer import keeps_prepared_statements
from reconciler.resources.document import Spec
from reconciler.resources.pgbouncer.checks import pools_transactions, target_release
from reconciler.runtime.handles import aconnection_of, connection_of
from reconciler.runtime.params import statement


def pooling_allows_prepare(spec: Spec | None, release: str | None = None) -> bool:
    """Whether named prepared statements are safe through the spec's PgBouncer (always true
    without one, or in session pooling)."""
    pb = spec.pgbouncer if spec is not None else None
    if spec is None or pb is None or not pools_transactions(pb):
        return True
    max_prepared = int(pb.settings.get("max_prepared_statements", "0") or 0)
    return keeps_prepared_statements(release or target_release(spec)) and max_prepared > 0


class _Registry:
    """Statements by name, and how often each ran (shared by the sync and asyncio registries)."""

    def __init__(self, server_side: bool = True):
        self.server_side = server_side
        self._statements: dict[str, str] = {}
        self._lock = threading.Lock()
        self.executions: dict[str, int] = {}

    @classmethod
    def for_spec(cls, spec: Any, release: str | None = None) -> Self:
        return cls(server_side=pooling_allows_prepare(spec, release))

    def register(self, name: str, query: str) -> None:
        with self._lock:
            if name in self._statements and self._statements[name] != query:
                raise ValueError(f"statement {name!r} is already registered with another query")
            self._statements[name] = query

    def _query(self, name: str, params: Any) -> Any:
        try:
            query = self._statements[name]
        except KeyError:
            raise KeyError(f"no statement registered as {name!r}") from None
        with self._lock:
            self.executions[name] = self.executions.get(name, 0) + 1
        return statement(query, params)


class PreparedStatements(_Registry):
    """A registry of named statements; ``server_side`` chooses named (prepared) or unnamed."""

    def execute(self, conn: Any, name: str, params: Any = None) -> psycopg.Cursor[Any]:
        """Execute the registered statement ``name`` with ``params`` on ``conn`` (a psycopg
        connection, or a SQLAlchemy ``Connection`` or ``Session``)."""
        query = self._query(name, params)
        driver, _ = connection_of(conn)
        return driver.execute(query, params, prepare=self.server_side)


class AsyncPreparedStatements(_Registry):
    """:class:`PreparedStatements` for asyncio connections and sessions."""

    async def execute(self, conn: Any, name: str, params: Any = None) -> psycopg.AsyncCursor[Any]:
        """Execute the registered statement ``name`` with ``params``; await the cursor's fetch."""
        query = self._query(name, params)
        driver, _ = await aconnection_of(conn)
        return await driver.execute(query, params, prepare=self.server_side)
