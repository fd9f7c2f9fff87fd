"""Index candidates from the statements themselves: pure functions over pglast parse trees.

For each table a statement reads, the columns it filters on by equality, by range, sorts by,
searches with ``LIKE``/``ILIKE`` or tests for JSON containment are collected. A btree candidate
puts equality columns first (most selective first, by ``pg_stats``), then one range column, then
the sort columns; ``LIKE``/``ILIKE`` gives a trigram GIN index, ``@>`` a ``jsonb_path_ops`` GIN.

>>> preds = predicates("SELECT * FROM agents a WHERE a.template = $1 AND a.last_active > $2 ORDER BY id",
...                    {"agents": ("public", "agents")})
>>> [(p.column, p.kind) for p in preds]
[('template', 'eq'), ('last_active', 'range'), ('id', 'sort')]
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pglast import ast, parse_sql
from pglast.enums import A_Expr_Kind, BoolExprType, SortByDir
from pglast.parser import ParseError

RANGE_OPS = {"<", ">", "<=", ">="}
LIKE_OPS = {"~~", "~~*", "!~~", "!~~*"}


@dataclass(frozen=True)
class Predicate:
    table: tuple[str, str]
    column: str
    kind: str                 # eq, range, sort, like, contains
    descending: bool = False
    lowered: bool = False     # lower(column) LIKE …


@dataclass
class Candidate:
    """A proposed index and the statements it serves."""

    table: tuple[str, str]
    columns: list            # IndexColumn-shaped: str or {"expression"/"column", "opclass"}
    using: str = "btree"
    queries: list[int] = field(default_factory=list)
    reason: str = ""
    needs_extension: str | None = None

    @property
    def key(self) -> tuple:
        return (self.table, self.using, tuple(str(c) for c in self.columns))

    def key_columns(self) -> list[str]:
        """Plain column names of the keys (None for an expression)."""
        out = []
        for c in self.columns:
            if isinstance(c, str):
                out.append(c.split()[0])
            else:
                out.append(c.get("column"))
        return out


def _column(node, aliases: dict[str, tuple[str, str]], default: tuple[str, str] | None):
    """(table, column) for a ColumnRef, resolving aliases; None for anything else."""
    if not isinstance(node, ast.ColumnRef):
        return None
    names = [f.sval for f in node.fields or () if isinstance(f, ast.String)]
    if len(names) == 1 and default is not None:
        return default, names[0]
    if len(names) == 2 and names[0] in aliases:
        return aliases[names[0]], names[1]
    return None


def _lowered_column(node, aliases, default):
    if isinstance(node, ast.FuncCall) and node.funcname and node.funcname[-1].sval == "lower" \
            and node.args and len(node.args) == 1:
        found = _column(node.args[0], aliases, default)
        return found
    return None


def _relations(from_clause, aliases: dict, quals: list) -> None:
    for item in from_clause or ():
        if isinstance(item, ast.RangeVar):
            target = (item.schemaname, item.relname)
            aliases[item.relname] = target
            if item.alias is not None:
                aliases[item.alias.aliasname] = target
        elif isinstance(item, ast.JoinExpr):
            _relations([item.larg, item.rarg], aliases, quals)
            if item.quals is not None:
                quals.append(item.quals)


def _conjuncts(node) -> list:
    if isinstance(node, ast.BoolExpr) and node.boolop == BoolExprType.AND_EXPR:
        out = []
        for arg in node.args or ():
            out.extend(_conjuncts(arg))
        return out
    return [node] if node is not None else []


def _op_name(expr: ast.A_Expr) -> str:
    return expr.name[-1].sval if expr.name else ""


def _from_condition(node, aliases, default) -> list[tuple]:
    """(table, column, kind, lowered) found in one condition."""
    found = []
    if isinstance(node, ast.NullTest):
        col = _column(node.arg, aliases, default)
        return [(col[0], col[1], "eq", False)] if col else []
    if not isinstance(node, ast.A_Expr):
        return []
    left, right = node.lexpr, node.rexpr
    op = _op_name(node)
    kind = node.kind
    if kind in (A_Expr_Kind.AEXPR_LIKE, A_Expr_Kind.AEXPR_ILIKE) or op in LIKE_OPS:
        col = _column(left, aliases, default)
        lowered = False
        if col is None:
            col = _lowered_column(left, aliases, default)
            lowered = col is not None
        return [(col[0], col[1], "like", lowered or kind == A_Expr_Kind.AEXPR_ILIKE or op in ("~~*", "!~~*"))] \
            if col else []
    if kind == A_Expr_Kind.AEXPR_BETWEEN or kind == A_Expr_Kind.AEXPR_NOT_BETWEEN:
        col = _column(left, aliases, default)
        return [(col[0], col[1], "range", False)] if col else []
    if kind in (A_Expr_Kind.AEXPR_IN, A_Expr_Kind.AEXPR_OP_ANY) and op == "=":
        col = _column(left, aliases, default)
        return [(col[0], col[1], "eq", False)] if col else []
    if kind != A_Expr_Kind.AEXPR_OP:
        return []
    if op == "@>":
        col = _column(left, aliases, default)
        return [(col[0], col[1], "contains", False)] if col else []
    if op == "=" or op in RANGE_OPS:
        what = "eq" if op == "=" else "range"
        for side in (left, right):
            col = _column(side, aliases, default)
            if col is not None:
                found.append((col[0], col[1], what, False))
    return found


def predicates(sql: str, tables: dict[str, tuple[str, str]]) -> list[Predicate]:
    """What one statement filters and sorts on, per table. ``tables`` resolves unqualified table
    names (``{"agents": ("public", "agents")}``); names it does not know are skipped."""
    try:
        stmts = parse_sql(sql)
    except ParseError:
        return []
    out: list[Predicate] = []
    for raw in stmts:
        stmt = raw.stmt
        if isinstance(stmt, ast.SelectStmt) and stmt.op and stmt.larg is not None:
            out += predicates_of_select(stmt.larg, tables) + predicates_of_select(stmt.rarg, tables)
        elif isinstance(stmt, ast.SelectStmt):
            out += predicates_of_select(stmt, tables)
        elif isinstance(stmt, (ast.UpdateStmt, ast.DeleteStmt)):
            aliases: dict = {}
            _relations([stmt.relation], aliases, [])
            out += _collect(aliases, [stmt.whereClause], [], tables)
    return out


def predicates_of_select(stmt, tables) -> list[Predicate]:
    if stmt is None:
        return []
    aliases: dict = {}
    quals: list = []
    _relations(stmt.fromClause, aliases, quals)
    return _collect(aliases, [stmt.whereClause, *quals], stmt.sortClause or (), tables)


def _resolve(target, tables):
    schema, name = target
    if schema is not None:
        return (schema, name)
    return tables.get(name)


def _collect(aliases, conditions, sort_clause, tables) -> list[Predicate]:
    resolved = {alias: _resolve(target, tables) for alias, target in aliases.items()}
    resolved = {alias: t for alias, t in resolved.items() if t is not None}
    distinct = set(resolved.values())
    default = next(iter(distinct)) if len(distinct) == 1 else None
    out = []
    for condition in conditions:
        for node in _conjuncts(condition):
            for table, column, kind, lowered in _from_condition(node, resolved, default):
                out.append(Predicate(table, column, kind, lowered=lowered))
    for sort in sort_clause:
        col = _column(sort.node, resolved, default)
        if col is not None:
            out.append(Predicate(col[0], col[1], "sort", descending=sort.sortby_dir == SortByDir.SORTBY_DESC))
    return out


def candidates_for(query_id: int, preds: list[Predicate], selectivity, column_types) -> list[Candidate]:
    """Index candidates of one statement. ``selectivity(table, column)`` orders equality columns
    (more distinct values first); ``column_types(table)`` maps column names to type names."""
    by_table: dict[tuple[str, str], list[Predicate]] = {}
    for p in preds:
        by_table.setdefault(p.table, []).append(p)
    out = []
    for table, items in by_table.items():
        types = column_types(table) or {}
        items = [p for p in items if p.column in types]
        eq = list(dict.fromkeys(p.column for p in items if p.kind == "eq"))
        eq.sort(key=lambda c: -selectivity(table, c))
        ranges = [p.column for p in items if p.kind == "range" and p.column not in eq]
        sorts = [p for p in items if p.kind == "sort" and p.column not in eq]
        columns: list = list(eq)
        if ranges:
            columns.append(ranges[0])
        elif sorts:
            columns += [f"{p.column} DESC" if p.descending else p.column for p in sorts
                        if p.column not in columns][:2]
        if columns:
            kinds = ", ".join(k for k, present in (("equality", eq), ("range", ranges), ("order", sorts)) if present)
            reason = f"{kinds} on {', '.join(map(str, columns[:4]))}"
            out.append(Candidate(table, columns[:4], queries=[query_id], reason=reason))
        for p in items:
            if p.kind == "like" and types.get(p.column, "").startswith(("text", "character")):
                key = {"expression": f"lower({p.column})", "opclass": "gin_trgm_ops"} if p.lowered \
                    else {"column": p.column, "opclass": "gin_trgm_ops"}
                out.append(Candidate(table, [key], "gin", [query_id], f"LIKE/ILIKE search on {p.column}",
                                     needs_extension="pg_trgm"))
            if p.kind == "contains" and types.get(p.column, "").startswith("jsonb"):
                out.append(Candidate(table, [{"column": p.column, "opclass": "jsonb_path_ops"}], "gin", [query_id],
                                     f"JSON containment (@>) on {p.column}"))
    return out
