"""What a recommended index costs the writes of the workload: every INSERT into its table adds an
entry to it, and every UPDATE that sets one of its columns adds one too — and can no longer be a
HOT update (heap-only: no index touched) when no index of the table had that column before.

Facts from pg_stat_statements (calls, rows), not planner costs: the advisor chooses by the reads it
saves and shows these beside each recommendation, for the DBA to weigh.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from reconciler.base.sqltext import SqlTextError
from reconciler.catalog.models import IndexDefinition
from reconciler.commands.advise.candidates import Candidate
from reconciler.commands.advise.shape import Table
from reconciler.commands.advise.workload import Statement
from reconciler.resources.indexes.equivalence import referenced_columns

Writes = list[tuple[Statement, dict[Table, frozenset[str] | None]]]


def _expression_columns(expression: str | None) -> frozenset[str]:
    try:
        return referenced_columns(expression) if expression else frozenset()
    except SqlTextError:  # an expression the parser refuses: no column we can name
        return frozenset()


def candidate_columns(candidate: Candidate) -> frozenset[str]:
    """The columns whose change touches the candidate index: keys, expressions' columns, INCLUDE."""
    out = set(candidate.include)
    for column in candidate.columns:
        if isinstance(column, str):
            out.add(column.split()[0])
        elif column.get("column"):
            out.add(column["column"])
        else:
            out |= _expression_columns(column.get("expression"))
    return frozenset(out)


def indexed_columns(definitions: Iterable[IndexDefinition]) -> frozenset[str]:
    """The columns the table's existing indexes read (keys, expressions, INCLUDE, predicates)."""
    out: set[str] = set()
    for d in definitions:
        out |= set(d.include) | _expression_columns(d.predicate)
        for key in d.keys:
            out |= {key.column} if key.column else _expression_columns(key.expression)
    return frozenset(out)


def upkeep(candidate: Candidate, writes: Writes, indexed: frozenset[str], hot_share: float = 1.0) -> dict[str, Any]:
    """The writes of the workload that would maintain ``candidate``: its table's inserts, the
    updates that set one of its columns (``loses_hot`` when no existing index reads any column
    they set, so they are HOT-eligible today), and the other updates of its table that are not HOT
    anyway (``1 - hot_share`` of them: the share PostgreSQL could not keep on the page, from the
    table's counters), which add an entry to every index, this one too."""
    columns = candidate_columns(candidate)
    inserts = [s for s, w in writes if candidate.table in w and w[candidate.table] is None]
    updates = []
    other_rows = 0
    for statement, written in writes:
        sets = written.get(candidate.table)
        if sets and sets & columns:
            updates.append({"queryid": statement.queryid, "query": statement.query, "calls": statement.calls,
                            "rows": statement.rows, "columns": sorted(sets & columns),
                            "loses_hot": not (sets & indexed)})
        elif sets:
            other_rows += statement.rows
    return {"inserts": {"statements": len(inserts), "calls": sum(s.calls for s in inserts),
                        "rows": sum(s.rows for s in inserts)},
            "updates": sorted(updates, key=lambda u: -u["rows"]),
            "other_updates": {"rows": other_rows, "non_hot_rows": round(other_rows * (1 - hot_share))}}
