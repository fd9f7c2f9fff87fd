"""The advisor never runs code it did not vet.

Statement texts in pg_stat_statements are written by whoever can run a query, and planning one
is not harmless: the planner evaluates IMMUTABLE functions on constants and STABLE ones while it
estimates, runs operators' estimators, and folds the expressions of the views, column defaults,
constraints, indexes and policies of the tables it reads; ``EXPLAIN ANALYZE`` runs everything.
All of that would run as pgrecon's role. So before the advisor plans a statement:

1. :func:`names_in` reads, with PostgreSQL's parser (pglast), every function, operator, type and
   relation the statement names, and whether it writes (a data-modifying statement or CTE);
2. :func:`vet` asks the server what those names can resolve to and what the named relations
   bring along (``advise/sql/vetting.sql``), and lets the statement be planned only when every
   function, operator and type involved is PostgreSQL's own or belongs to an extension the spec
   declares. ``--analyze`` additionally refuses any volatile function and any write.

A statement that fails is listed as skipped, with the first object that made it fail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import psycopg
from pglast import ast, parse_sql, visitors
from pglast.enums import A_Expr_Kind
from pglast.parser import ParseError

from reconciler.commands.advise.stats import advise_sql

Name = tuple[str, str]  # (schema or "", name)

_COMPARISONS = {A_Expr_Kind.AEXPR_BETWEEN, A_Expr_Kind.AEXPR_NOT_BETWEEN, A_Expr_Kind.AEXPR_BETWEEN_SYM,
                A_Expr_Kind.AEXPR_NOT_BETWEEN_SYM}
_QUERIES = (ast.SelectStmt, ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt)
_WRITES = (ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt, ast.MergeStmt)


@dataclass(frozen=True)
class Names:
    """What one statement names, as its text says it."""

    functions: frozenset[Name] = frozenset()
    operators: frozenset[Name] = frozenset()
    types: frozenset[Name] = frozenset()
    relations: frozenset[Name] = frozenset()
    writes: bool = False          # INSERT, UPDATE, DELETE or MERGE, at the top or in a CTE
    locks: bool = False           # SELECT … FOR UPDATE/SHARE
    problem: str | None = None    # why it cannot be vetted at all (not one query, does not parse)


def _name(parts: tuple[Any, ...] | None) -> Name:
    values = [getattr(p, "sval", "") or "" for p in parts or ()]
    if not values:
        return ("", "")
    return (values[-2] if len(values) > 1 else "", values[-1])


class _Collector(visitors.Visitor):
    def __init__(self) -> None:
        self.functions: set[Name] = set()
        self.operators: set[Name] = set()
        self.types: set[Name] = set()
        self.relations: set[Name] = set()
        self.ctes: set[str] = set()
        self.writes = False
        self.locks = False

    def visit(self, ancestors: object, node: ast.Node) -> None:
        if isinstance(node, ast.FuncCall):
            self.functions.add(_name(node.funcname))
        elif isinstance(node, ast.A_Expr):
            if node.kind in _COMPARISONS:
                self.operators.update({("", ">="), ("", "<="), ("", ">"), ("", "<")})
            else:
                self.operators.add(_name(node.name))
            if node.kind == A_Expr_Kind.AEXPR_SIMILAR:
                self.functions.add(("", "similar_to_escape"))
        elif isinstance(node, ast.SubLink) and node.operName:
            self.operators.add(_name(node.operName))
        elif isinstance(node, ast.SortBy) and node.useOp:
            self.operators.add(_name(node.useOp))
        elif isinstance(node, ast.TypeName):
            self.types.add(_name(node.names))
        elif isinstance(node, ast.RangeVar):
            self.relations.add((node.schemaname or "", node.relname or ""))
        elif isinstance(node, ast.CommonTableExpr):
            self.ctes.add(node.ctename or "")
        if isinstance(node, _WRITES):
            self.writes = True
        if isinstance(node, ast.SelectStmt) and node.lockingClause:
            self.locks = True


@lru_cache(maxsize=1024)
def names_in(query: str) -> Names:
    """Everything ``query`` names (see :class:`Names`); ``problem`` says why nothing could be read."""
    try:
        statements = parse_sql(query)
    except (ParseError, RecursionError) as exc:
        return Names(problem=f"it does not parse ({exc})"[:200])
    if len(statements) != 1 or not isinstance(statements[0].stmt, _QUERIES):
        return Names(problem="it is not one SELECT, INSERT, UPDATE or DELETE")
    collector = _Collector()
    try:
        collector(statements[0].stmt)
    except RecursionError:
        return Names(problem="it is nested too deeply to be read")
    relations = {r for r in collector.relations if r[0] or r[1] not in collector.ctes}
    return Names(frozenset(collector.functions), frozenset(collector.operators), frozenset(collector.types),
                 frozenset(relations), collector.writes, collector.locks)


@dataclass
class Verdict:
    """Whether a statement may be planned (and EXPLAIN ANALYZEd), and why not."""

    plan: bool
    analyze: bool
    reason: str | None = None            # why it may not be planned
    analyze_reason: str | None = None    # why it may not be run by --analyze
    untrusted: list[str] = field(default_factory=list)


def _arrays(names: frozenset[Name]) -> tuple[list[str], list[str]]:
    ordered = sorted(names)
    return [s for s, _ in ordered], [n for _, n in ordered]


def vet(conn: psycopg.Connection, query: str, extensions: list[str]) -> Verdict:
    """May the advisor plan ``query`` — and run it under ``--analyze`` — as pgrecon's role?
    ``extensions``: the extensions the spec declares (their functions are trusted)."""
    names = names_in(query)
    if names.problem:
        return Verdict(False, False, names.problem)
    params: dict[str, object] = {"extensions": list(extensions)}
    for key, found in (("function", names.functions), ("operator", names.operators), ("type", names.types),
                       ("relation", names.relations)):
        params[f"{key}_schemas"], params[f"{key}_names"] = _arrays(found)
    rows = conn.execute(advise_sql("vetting"), params).fetchall()
    untrusted = [f"{kind} {name}" for kind, name, trusted, _ in rows if not trusted]
    volatile = [f"{name}" for kind, name, trusted, is_volatile in rows if kind == "function" and is_volatile]
    if untrusted:
        return Verdict(False, False, f"it would make the planner run the {untrusted[0]}, which is neither "
                                     f"PostgreSQL's nor a declared extension's", untrusted=untrusted)
    if names.writes:
        why = "it writes (INSERT, UPDATE, DELETE or a data-modifying WITH)"
    elif names.locks:
        why = "it locks rows (FOR UPDATE/SHARE)"
    elif volatile:
        why = f"it calls the volatile function {volatile[0]}"
    else:
        why = None
    return Verdict(True, why is None, analyze_reason=why)
