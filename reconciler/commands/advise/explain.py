"""EXPLAIN of normalised statements (``$1`` parameters) without running them.

PostgreSQL 16+ has ``EXPLAIN (GENERIC_PLAN)``; on older servers the statement is prepared and
explained as ``EXECUTE`` with the plan cache forced to a generic plan. Everything runs in a
transaction that is rolled back. ``--analyze`` runs ``EXPLAIN ANALYZE`` for SELECTs without
parameters only, under a statement timeout, also rolled back. Every EXPLAIN runs in a read-only
transaction, and only statements :mod:`.vetting` let through reach it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
from pglast import ast, parse_sql
from pglast.parser import ParseError
from psycopg import sql

_PARAM = re.compile(r"\$(\d+)")


@dataclass
class Explained:
    cost: float | None
    plan: dict[str, Any] | None = None
    error: str | None = None
    findings: list[str] = field(default_factory=list)
    analyzed: bool = False


def is_select(sql: str) -> bool:
    try:
        stmts = parse_sql(sql)
    except ParseError:
        return False
    return len(stmts) == 1 and isinstance(stmts[0].stmt, ast.SelectStmt) and not stmts[0].stmt.intoClause \
        and not stmts[0].stmt.lockingClause


def explain(conn: psycopg.Connection, statement: str, major: int, analyze: bool = False,
            timeout_ms: int = 10_000, table_rows: dict[str, int] | None = None, large_rows: int = 10_000) -> Explained:
    """The planner's cost (and findings) for ``statement``, a statement the application already
    ran (from pg_stat_statements). It must be exactly one statement; it is explained, never
    changed, and the transaction is rolled back."""
    try:
        if len(parse_sql(statement)) != 1:
            return Explained(None, error="not exactly one statement")
    except ParseError as exc:
        return Explained(None, error=f"cannot parse: {exc}")
    body = sql.SQL(statement)
    params = max((int(n) for n in _PARAM.findall(statement)), default=0)
    run_analyze = analyze and params == 0 and is_select(statement)
    try:
        with conn.transaction(force_rollback=True):
            conn.execute("SELECT pg_catalog.set_config('statement_timeout', %s, true), "
                         "pg_catalog.set_config('transaction_read_only', 'on', true)", (f"{timeout_ms}ms",))
            if run_analyze:
                row = conn.execute(sql.SQL("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ") + body).fetchone()
            elif params == 0:
                row = conn.execute(sql.SQL("EXPLAIN (FORMAT JSON) ") + body).fetchone()
            elif major >= 16:
                row = conn.execute(sql.SQL("EXPLAIN (GENERIC_PLAN, FORMAT JSON) ") + body).fetchone()
            else:
                conn.execute(sql.SQL("PREPARE pgrecon_explain AS ") + body)
                conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
                nulls = sql.SQL(", ").join([sql.NULL] * params)
                row = conn.execute(sql.SQL("EXPLAIN (FORMAT JSON) EXECUTE pgrecon_explain({})").format(nulls)
                                   ).fetchone()
                conn.execute("DEALLOCATE pgrecon_explain")
    except psycopg.Error as exc:
        return Explained(None, error=exc.diag.message_primary or str(exc))
    if row is None:
        return Explained(None, error="EXPLAIN returned nothing")
    document = row[0] if not isinstance(row[0], str) else json.loads(row[0])
    plan = document[0]["Plan"]
    result = Explained(plan.get("Total Cost"), plan, analyzed=run_analyze)
    result.findings = findings(plan, table_rows or {}, large_rows)
    return result


def _walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", ()):
        yield from _walk(child)


def findings(plan: dict[str, Any], table_rows: dict[str, int], large_rows: int) -> list[str]:
    """Sequential scans of large tables, bad row estimates, sorts that spill to disk."""
    out = []
    for node in _walk(plan):
        kind = node.get("Node Type")
        relation = node.get("Relation Name")
        if kind == "Seq Scan" and relation and table_rows.get(relation, 0) >= large_rows:
            text = f"sequential scan on {relation} (~{table_rows[relation]:,} rows)"
            out.append(text + (f" filtering {node['Filter']}" if node.get("Filter") else ""))
        planned = node.get("Plan Rows", 0)
        if "Actual Rows" in node and planned:
            loops = max(node.get("Actual Loops", 1), 1)
            ratio = (node["Actual Rows"] + 1) / (planned + 1)
            if ratio > 10 or ratio < 0.1:
                out.append(f"{kind}{' on ' + relation if relation else ''}: estimated {planned} rows, "
                           f"got {node['Actual Rows']} (x{loops} loops)")
        if kind == "Sort" and node.get("Sort Space Type") == "Disk":
            out.append(f"sort spilled to disk ({node.get('Sort Space Used')} kB): raise work_mem or index "
                       f"{', '.join(node.get('Sort Key', []))}")
    return out
