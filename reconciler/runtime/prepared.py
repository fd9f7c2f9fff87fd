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
from typing import Any

import psycopg

from reconciler.facts.pgbouncer import keeps_prepared_statements
from reconciler.resources.document import Spec
from reconciler.resources.pgbouncer.checks import pools_transactions, target_release


def pooling_allows_prepare(spec: Spec | None, release: str | None = None) -> bool:
    """Whether named prepared statements are safe through the spec's PgBouncer (always true
    without one, or in session pooling)."""
    pb = spec.pgbouncer if spec is not None else None
    if spec is None or pb is None or not pools_transactions(pb):
        return True
    max_prepared = int(pb.settings.get("max_prepared_statements", "0") or 0)
    return keeps_prepared_statements(release or target_release(spec)) and max_prepared > 0


class PreparedStatements:
    """A registry of named statements; ``server_side`` chooses named (prepared) or unnamed."""

    def __init__(self, server_side: bool = True):
        self.server_side = server_side
        self._statements: dict[str, str] = {}
        self._lock = threading.Lock()
        self.executions: dict[str, int] = {}

    @classmethod
    def for_spec(cls, spec: Any, release: str | None = None) -> PreparedStatements:
        return cls(server_side=pooling_allows_prepare(spec, release))

    def register(self, name: str, query: str) -> None:
        with self._lock:
            if name in self._statements and self._statements[name] != query:
                raise ValueError(f"statement {name!r} is already registered with another query")
            self._statements[name] = query

    def execute(self, conn: psycopg.Connection, name: str, params: Any = None) -> psycopg.Cursor:
        """Execute the registered statement ``name`` with ``params``."""
        try:
            query = self._statements[name]
        except KeyError:
            raise KeyError(f"no statement registered as {name!r}") from None
        with self._lock:
            self.executions[name] = self.executions.get(name, 0) + 1
        return conn.execute(query, params, prepare=self.server_side)
