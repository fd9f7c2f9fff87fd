"""The planner as referee: what would each statement cost with these (hypothetical) indexes?

Everything happens in one transaction that is rolled back: HypoPG is created in it when the
database does not have it, and hypothetical indexes live in this session only and are removed
at the end. A statement is costed

- with *custom plans* at representative parameter values: the statement with each ``$n``
  replaced by its value as a literal (``psycopg.sql.Literal``), which is what a custom plan
  sees, weighted into one expected cost;
- with its *generic plan* (``EXPLAIN (GENERIC_PLAN)`` on PostgreSQL 16+, else ``PREPARE`` forced
  to a generic plan and explained as ``EXECUTE`` with NULLs, within one savepoint).

Every step that can fail runs in a savepoint, so an error (HypoPG refusing an access method, a
statement the planner rejects) is reported as it happened and the session goes on. Costs are
cached by the hypothetical indexes on the tables the statement reads, so trying an index on one
table never re-plans statements on others.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from pglast.parser import scan
from psycopg import sql

from reconciler.commands.advise.hypo import HypoPG, install_hypopg
from reconciler.commands.advise.params import ParameterSet
from reconciler.commands.advise.shape import Table
from reconciler.commands.advise.walks import pessimistic_cost, walk_penalty
from reconciler.connect.session import fetch_value


@dataclass
class Planned:
    """One statement as the planner sees it."""

    query: str
    tables: frozenset[Table]
    sets: list[ParameterSet] | None      # None: only the generic plan can be costed
    params: int = 0
    error: str | None = None


@dataclass
class Hypothetical:
    oids: list[int]          # one per partition for an index on a partitioned table
    size_bytes: int


@dataclass
class WhatIf:
    conn: psycopg.Connection
    major: int
    statements: list[Planned]
    timeout_ms: int = 10_000
    builds: bool = False   # some candidates are built for real (--build-candidates): read-only per EXPLAIN
    index_sql: dict[tuple[Any, ...], tuple[Table, str]] = field(default_factory=dict)  # key -> (table, CREATE INDEX …)
    # an index on a partitioned table: HypoPG creates it on each partition (the planner looks there)
    partition_sql: dict[tuple[Any, ...], list[str]] = field(default_factory=dict)
    live: dict[tuple[Any, ...], Hypothetical] = field(default_factory=dict)
    refused: dict[tuple[Any, ...], str] = field(default_factory=dict)
    sizes: dict[tuple[Any, ...], int] = field(default_factory=dict)
    hypopg_error: str | None = None
    hypopg: HypoPG | None = None
    explains: int = 0
    _cache: dict[tuple[Any, ...], Costed | None] = field(default_factory=dict)
    _pieces: dict[int, list[str | int]] = field(default_factory=dict)
    _transaction: Any = None

    # ---------------------------------------------------------------- session

    def __enter__(self) -> WhatIf:
        self._transaction = self.conn.transaction(force_rollback=True)
        self._transaction.__enter__()
        self.conn.execute("SELECT pg_catalog.set_config('statement_timeout', %s, true)", (f"{self.timeout_ms}ms",))
        try:
            with self.conn.transaction():
                self.hypopg = install_hypopg(self.conn)
        except psycopg.Error as exc:
            self.hypopg_error = _message(exc)
        if not self.builds:  # from here on nothing writes: HypoPG keeps its indexes in memory
            self.conn.execute(_READ_ONLY)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        try:
            if self.hypopg is not None and not self.conn.broken:
                with self.conn.transaction():
                    self.conn.execute(self.hypopg.call("hypopg_reset"))
        except psycopg.Error:
            pass  # the transaction is rolled back below, and the session keeps nothing else
        finally:
            self._transaction.__exit__(*exc_info)

    @property
    def available(self) -> bool:
        return self.hypopg_error is None

    # ---------------------------------------------------------------- hypothetical indexes

    def register(self, key: tuple[Any, ...], table: Table, create_sql: str,
                 partitions: list[str] | None = None) -> None:
        """``partitions``: for a partitioned table, the same index's CREATE INDEX on each of its
        leaf partitions (what is created hypothetically)."""
        self.index_sql[key] = (table, create_sql)
        if partitions:
            self.partition_sql[key] = partitions

    def _create(self, key: tuple[Any, ...]) -> bool:
        if key in self.live:
            return True
        if key in self.refused or not self.available:
            return False
        _, create_sql = self.index_sql[key]
        assert self.hypopg is not None  # available
        oids, size = [], 0
        try:
            with self.conn.transaction():
                for statement in self.partition_sql.get(key) or [create_sql]:
                    oid = fetch_value(self.conn, self.hypopg.call("hypopg_create_index", sql.Literal(statement)))
                    oids.append(int(oid))
                    size += int(fetch_value(self.conn, self.hypopg.call("hypopg_relation_size",
                                                                        sql.Literal(oid))) or 0)
        except psycopg.Error as exc:
            self.refused[key] = _message(exc)
            return False
        self.live[key] = Hypothetical(oids, size)
        self.sizes[key] = size
        return True

    def _drop(self, key: tuple[Any, ...]) -> None:
        found = self.live.pop(key, None)
        if found is not None and self.hypopg is not None:
            with self.conn.transaction():
                for oid in found.oids:
                    self.conn.execute(self.hypopg.call("hypopg_drop_index", sql.Literal(oid)))

    def try_create(self, key: tuple[Any, ...]) -> str | None:
        """Create ``key`` hypothetically (it stays); HypoPG's own error when it refuses."""
        return None if self._create(key) else self.refused.get(key, self.hypopg_error)

    def size(self, key: tuple[Any, ...]) -> int:
        """HypoPG's estimate of the index's size (kept from its creation: it may be dropped since)."""
        return self.sizes.get(key, 0)

    def _realize(self, keys: frozenset[tuple[Any, ...]]) -> None:
        for key in [k for k in self.live if k not in keys]:
            self._drop(key)
        for key in keys:
            self._create(key)

    # ---------------------------------------------------------------- costs

    def _relevant(self, i: int, keys: Iterable[tuple[Any, ...]]) -> frozenset[tuple[Any, ...]]:
        tables = self.statements[i].tables
        return frozenset(k for k in keys if k in self.index_sql and self.index_sql[k][0] in tables
                         and k not in self.refused)

    def cost(self, i: int, keys: frozenset[tuple[Any, ...]], mode: int | str) -> float | None:
        """The planner's own cost of statement ``i`` with the hypothetical indexes ``keys``:
        ``mode`` is a parameter-set index (a custom plan), ``"plain"`` (no parameters) or
        ``"generic"``. The regression check compares these, plan by plan: what the planner will
        choose between. The objective (:meth:`expected`) costs ordered walks that filter whole."""
        found = self._costed(i, keys, mode)
        return found.raw if found else None

    def _costed(self, i: int, keys: frozenset[tuple[Any, ...]], mode: int | str) -> Costed | None:
        relevant = self._relevant(i, keys)
        cache_key = (i, mode, relevant)
        if cache_key in self._cache:
            return self._cache[cache_key]
        self._realize(relevant | frozenset(k for k in self.live if k not in self.index_sql or
                                           self.index_sql[k][0] not in self.statements[i].tables))
        result = self._explain(i, mode)
        self._cache[cache_key] = result
        return result

    def _bound(self, i: int, values: dict[int, str | None]) -> sql.Composed:
        """Statement ``i`` with each ``$n`` replaced by its value as a literal."""
        pieces = self._pieces.get(i)
        if pieces is None:
            pieces = self._pieces[i] = _split_params(self.statements[i].query)
        parts: list[sql.Composable] = []
        for piece in pieces:
            if isinstance(piece, int):
                value = values.get(piece)
                parts.append(sql.NULL if value is None else sql.Literal(value))
            else:
                parts.append(sql.SQL(piece))  # pg_stat_statements' own text, between parameters
        return sql.Composed(parts)

    def _explain(self, i: int, mode: int | str) -> Costed | None:
        statement = self.statements[i]
        body = sql.SQL(statement.query)  # pg_stat_statements' text, explained as is
        self.explains += 1
        try:
            with self.conn.transaction():
                if self.builds:
                    self.conn.execute(_READ_ONLY)
                if mode == "plain" or (mode == "generic" and not statement.params):
                    row = self.conn.execute(sql.SQL("EXPLAIN (FORMAT JSON) ") + body).fetchone()
                elif mode == "generic" and self.major >= 16:
                    row = self.conn.execute(sql.SQL("EXPLAIN (GENERIC_PLAN, FORMAT JSON) ") + body).fetchone()
                elif mode == "generic":  # on an error, the prepared statement is deallocated below
                    self.conn.execute(sql.SQL("PREPARE pgrecon_generic AS ") + body)
                    self.conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
                    nulls = sql.SQL(", ").join([sql.NULL] * statement.params)
                    row = self.conn.execute(sql.SQL("EXPLAIN (FORMAT JSON) EXECUTE pgrecon_generic({})")
                                            .format(nulls)).fetchone()
                    self.conn.execute("SET LOCAL plan_cache_mode TO DEFAULT")
                    self.conn.execute("DEALLOCATE pgrecon_generic")
                else:
                    if statement.sets is None:
                        return None
                    bound = self._bound(i, statement.sets[int(mode)].values)
                    row = self.conn.execute(sql.SQL("EXPLAIN (FORMAT JSON) ") + bound).fetchone()
        except psycopg.Error as exc:
            statement.error = statement.error or _message(exc)
            if mode == "generic" and self.major < 16:
                self._deallocate_generic()
            return None
        if row is None:
            return None
        document = row[0] if not isinstance(row[0], str) else json.loads(row[0])
        plan = document[0]["Plan"]
        # an ordered walk that filters: costed whole for the objective
        return Costed(pessimistic_cost(plan), walk_penalty(plan) > 0, float(plan.get("Total Cost") or 0.0))

    def _deallocate_generic(self) -> None:
        """After a failed generic plan: PREPARE is not undone by the savepoint's rollback."""
        try:
            with self.conn.transaction():
                self.conn.execute("DEALLOCATE pgrecon_generic")
        except psycopg.Error:
            pass  # it was never prepared

    def modes(self, i: int) -> list[int | str]:
        statement = self.statements[i]
        if not statement.params:
            return ["plain"]
        if statement.sets is None:
            return ["generic"]
        return list(range(len(statement.sets)))

    def _weighted(self, i: int, cost_of: Callable[[int | str], Costed | None]) -> float | None:
        """The statement's cost over its representative values, weighted by how often each occurs;
        but where any plan walks an index in ORDER BY order and filters under a LIMIT, the
        pessimistic end: its cost at the rarest values (the set that stands for the fewest rows),
        which are what such a walk cannot find soon (see :mod:`.walks`)."""
        statement = self.statements[i]
        total, walks = 0.0, False
        rarest: tuple[float, float] | None = None       # (weight, -cost): the rarest set, the dearest of ties
        for mode in self.modes(i):
            found = cost_of(mode)
            if found is None:
                return None
            weight = statement.sets[mode].weight if isinstance(mode, int) and statement.sets else 1.0
            total += weight * found.cost
            walks = walks or found.walks
            rarest = min(rarest, (weight, -found.cost)) if rarest else (weight, -found.cost)
        return -rarest[1] if walks and rarest else total

    def expected(self, i: int, keys: frozenset[tuple[Any, ...]]) -> float | None:
        """The cost of statement ``i`` weighted over its representative values (the generic plan's
        when it has none)."""
        return self._weighted(i, lambda mode: self._costed(i, keys, mode))

    def expected_now(self, i: int) -> float | None:
        """Like :meth:`expected` with whatever indexes exist right now (real ones being built in
        a savepoint included), never cached."""
        return self._weighted(i, lambda mode: self._explain(i, mode))

    def generic_cost(self, i: int, keys: frozenset[tuple[Any, ...]]) -> float | None:
        return self.cost(i, keys, "generic" if self.statements[i].params else "plain")

    def custom_costs(self, i: int, keys: frozenset[tuple[Any, ...]]) -> list[float | None]:
        if self.modes(i) == ["generic"]:
            return []
        return [self.cost(i, keys, mode) for mode in self.modes(i)]

    def realize(self, keys: frozenset[tuple[Any, ...]]) -> None:
        """Make exactly ``keys`` the hypothetical indexes in place."""
        self._realize(frozenset(k for k in keys if k not in self.refused))


@dataclass(frozen=True)
class Costed:
    """One plan's cost, and whether it walks an index in order and filters under a LIMIT."""

    cost: float                 # with an ordered walk that filters costed whole (see .walks)
    walks: bool = False
    raw: float = 0.0            # the planner's own total cost


_READ_ONLY = "SELECT pg_catalog.set_config('transaction_read_only', 'on', true)"


def _split_params(query: str) -> list[str | int]:
    """``query`` as text pieces and parameter numbers, split where the scanner finds ``$n``
    (never inside a string or a comment)."""
    out: list[str | int] = []
    at = 0
    for token in scan(query):
        if token.name == "PARAM":
            out.append(query[at:token.start])
            out.append(int(query[token.start + 1:token.end + 1]))
            at = token.end + 1
    out.append(query[at:])
    return out


def _message(exc: psycopg.Error) -> str:
    return exc.diag.message_primary or str(exc)
