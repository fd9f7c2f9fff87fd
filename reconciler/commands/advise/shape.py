"""What one statement asks of each table it reads: pure functions over pglast parse trees.

For each table: the columns it filters on by equality (joins included), by range, sorts and
groups by, searches with ``LIKE``/``ILIKE``, tests for JSON containment, and every column it
reads at all (for covering indexes). Which parameter (``$n``) is compared with which column is
kept, so the planner can later be asked about representative values.

>>> shape = analyse("SELECT a.id FROM agents a WHERE a.template = $1 AND a.last_active > $2 ORDER BY id "
...                 "LIMIT $3", {"agents": ("public", "agents")})
>>> [(p.column, p.kind, p.params) for p in shape.predicates]
[('template', 'eq', (1,)), ('last_active', 'range', (2,)), ('id', 'sort', ())]
>>> shape.limit_param, sorted(shape.referenced[("public", "agents")])
(3, ['id', 'last_active', 'template'])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pglast import ast, parse_sql
from pglast.enums import A_Expr_Kind, BoolExprType, SortByDir
from pglast.parser import ParseError
from pglast.visitors import Skip, Visitor

Table = tuple[str, str]
RANGE_OPS = {"<": "hi", "<=": "hi", ">": "lo", ">=": "lo"}
MIRROR = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "="}
LIKE_OPS = {"~~", "~~*", "!~~", "!~~*"}


@dataclass(frozen=True)
class Predicate:
    """One thing a statement does with a column."""

    table: Table
    column: str
    kind: str                 # eq, range, sort, group, like, contains
    descending: bool = False  # sort
    lowered: bool = False     # lower(column) = … / LIKE …
    insensitive: bool = False  # ILIKE
    params: tuple[int, ...] = ()  # the $n compared with the column
    side: str = ""            # range: lo (column > $n), hi (column < $n), between ($a, $b)


@dataclass
class Shape:
    predicates: list[Predicate] = field(default_factory=list)
    referenced: dict[Table, set[str]] = field(default_factory=dict)
    limit_param: int | None = None
    offset_param: int | None = None
    params: set[int] = field(default_factory=set)          # every $n in the statement
    where_params: set[int] = field(default_factory=set)    # $n inside a WHERE / JOIN condition
    rows_match: bool = False  # one table, no LIMIT/GROUP BY/DISTINCT/aggregate: rows returned = rows matched
    writes: dict[Table, frozenset[str] | None] = field(default_factory=dict)  # INSERT: None; UPDATE: columns set

    @property
    def tables(self) -> frozenset[Table]:
        return frozenset(self.referenced) | frozenset(p.table for p in self.predicates)

    @property
    def unknown_params(self) -> set[int]:
        """Parameters in a condition that no predicate explains (compared with an expression)."""
        known = {n for p in self.predicates for n in p.params}
        return self.where_params - known


class _Params(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found: set[int] = set()

    def visit_ParamRef(self, ancestors: Any, node: Any) -> None:
        self.found.add(node.number)


def _params_in(node: Any) -> set[int]:
    if node is None:
        return set()
    visitor = _Params()
    visitor(node)
    return visitor.found


def _param(node: Any) -> int | None:
    """``$n`` itself, or ``$n`` behind a cast."""
    if isinstance(node, ast.TypeCast):
        node = node.arg
    return node.number if isinstance(node, ast.ParamRef) else None


class _Scope:
    """The tables of one SELECT (or UPDATE/DELETE) and how names resolve in it."""

    def __init__(self, tables: dict[str, Table], columns: dict[Table, set[str]]):
        self.known = tables
        self.columns = columns
        self.aliases: dict[str, Table] = {}
        self.quals: list[Any] = []

    def add_from(self, items: Any) -> list[Any]:
        """Register FROM items; returns sub-selects found there."""
        subs = []
        for item in items or ():
            if isinstance(item, ast.RangeVar):
                relname = str(item.relname)
                target = (str(item.schemaname), relname) if item.schemaname else self.known.get(relname)
                if target is None:
                    continue
                self.aliases[relname] = target
                if item.alias is not None:
                    self.aliases[str(item.alias.aliasname)] = target
            elif isinstance(item, ast.JoinExpr):
                subs += self.add_from([item.larg, item.rarg])
                if item.quals is not None:
                    self.quals.append(item.quals)
            elif isinstance(item, ast.RangeSubselect) and item.subquery is not None:
                subs.append(item.subquery)
        return subs

    @property
    def tables(self) -> set[Table]:
        return set(self.aliases.values())

    def column(self, node: Any) -> tuple[Table, str] | None:
        """(table, column) of a column reference, resolving aliases; None for anything else."""
        if isinstance(node, ast.TypeCast):
            node = node.arg
        if not isinstance(node, ast.ColumnRef):
            return None
        names = [str(f.sval) for f in node.fields or () if isinstance(f, ast.String)]
        if len(names) == 2 and names[0] in self.aliases:
            return self.aliases[names[0]], names[1]
        if len(names) == 1:
            tables = self.tables
            if len(tables) == 1:
                return next(iter(tables)), names[0]
            owners = [t for t in tables if names[0] in self.columns.get(t, ())]
            if len(owners) == 1:
                return owners[0], names[0]
        return None

    def lowered(self, node: Any) -> tuple[Table, str] | None:
        """``lower(column)``."""
        if isinstance(node, ast.FuncCall) and node.funcname and node.funcname[-1].sval == "lower" \
                and node.args and len(node.args) == 1:
            return self.column(node.args[0])
        return None


def _conjuncts(node: Any) -> list[Any]:
    if isinstance(node, ast.BoolExpr) and node.boolop == BoolExprType.AND_EXPR:
        out = []
        for arg in node.args or ():
            out.extend(_conjuncts(arg))
        return out
    return [node] if node is not None else []


def _op_name(expr: ast.A_Expr) -> str:
    return expr.name[-1].sval if expr.name else ""


def _condition(node: Any, scope: _Scope) -> list[Predicate]:
    """Predicates found in one condition (a conjunct)."""
    if isinstance(node, ast.SubLink) and node.testexpr is not None:  # column IN (SELECT …): a semi-join
        col = scope.column(node.testexpr)
        return [Predicate(col[0], col[1], "eq")] if col else []
    if isinstance(node, ast.NullTest):
        col = scope.column(node.arg)
        return [Predicate(col[0], col[1], "eq")] if col else []
    if not isinstance(node, ast.A_Expr):
        return []
    left, right, op, kind = node.lexpr, node.rexpr, _op_name(node), node.kind
    if kind in (A_Expr_Kind.AEXPR_LIKE, A_Expr_Kind.AEXPR_ILIKE) or op in LIKE_OPS:
        return _like(left, right, op, kind, scope)
    if kind in (A_Expr_Kind.AEXPR_BETWEEN, A_Expr_Kind.AEXPR_BETWEEN_SYM):
        col = scope.column(left)
        bounds = [_param(b) for b in right] if isinstance(right, (list, tuple)) else []
        params = tuple(b for b in bounds if b is not None)
        return [Predicate(col[0], col[1], "range", params=params, side="between" if len(params) == 2 else "")] \
            if col else []
    if kind in (A_Expr_Kind.AEXPR_IN, A_Expr_Kind.AEXPR_OP_ANY) and op == "=":
        col = scope.column(left)
        items = right if isinstance(right, (list, tuple)) else [right]
        params = tuple(p for p in (_param(i) for i in items) if p is not None)
        return [Predicate(col[0], col[1], "eq", params=params if kind == A_Expr_Kind.AEXPR_IN else ())] \
            if col else []
    if kind != A_Expr_Kind.AEXPR_OP:
        return []
    if op == "@>":
        col = scope.column(left)
        param = _param(right)
        return [Predicate(col[0], col[1], "contains", params=(param,) if param else ())] if col else []
    if op != "=" and op not in RANGE_OPS:
        return []
    return _comparison(left, right, op, scope)


def _like(left: Any, right: Any, op: str, kind: Any, scope: _Scope) -> list[Predicate]:
    """``column LIKE $1`` (or ``lower(column) ILIKE …``)."""
    col, lowered = scope.column(left), False
    if col is None:
        col, lowered = scope.lowered(left), True
    if col is None:
        return []
    insensitive = kind == A_Expr_Kind.AEXPR_ILIKE or op in ("~~*", "!~~*")
    param = _param(right)
    return [Predicate(col[0], col[1], "like", lowered=lowered, insensitive=insensitive,
                      params=(param,) if param else ())]


def _comparison(left: Any, right: Any, op: str, scope: _Scope) -> list[Predicate]:
    """``=`` or a range operator, with the column on either side."""
    found = []
    for this, other, this_op in ((left, right, op), (right, left, MIRROR[op])):
        col, lowered = scope.column(this), False
        if col is None and op == "=":
            col, lowered = scope.lowered(this), True
        if col is None:
            continue
        value = other.args[0] if lowered and scope.lowered(other) is None and isinstance(other, ast.FuncCall) \
            and other.args else other
        param = _param(value)
        params = (param,) if param is not None else ()
        if op == "=":
            found.append(Predicate(col[0], col[1], "eq", lowered=lowered, params=params))
        else:
            found.append(Predicate(col[0], col[1], "range", params=params, side=RANGE_OPS[this_op]))
    return found


class _Columns(Visitor):
    """Every column reference of one statement, not descending into its sub-selects."""

    def __init__(self, scope: _Scope, root: Any, out: dict[Table, set[str]]):
        super().__init__()
        self.scope, self.root, self.out = scope, root, out

    def visit_ColumnRef(self, ancestors: Any, node: Any) -> None:
        col = self.scope.column(node)
        if col is not None:
            self.out.setdefault(col[0], set()).add(col[1])

    def visit_SelectStmt(self, ancestors: Any, node: Any) -> Any:
        return None if node is self.root else Skip


def _select(stmt: Any, shape: Shape, tables: dict[str, Table], columns: dict[Table, set[str]]) -> None:
    if stmt is None:
        return
    if isinstance(stmt, ast.SelectStmt) and stmt.op and stmt.larg is not None:  # UNION / INTERSECT / EXCEPT
        _select(stmt.larg, shape, tables, columns)
        _select(stmt.rarg, shape, tables, columns)
        return
    for cte in (stmt.withClause.ctes if getattr(stmt, "withClause", None) else ()) or ():
        _select(cte.ctequery, shape, tables, columns)
    scope = _Scope(tables, columns)
    parts = _clauses(stmt, scope, shape)
    if parts is None:
        return
    subs, conditions, sort_clause, group_clause = parts
    for sub in subs:
        _select(sub, shape, tables, columns)
    for condition in conditions:
        shape.where_params |= _params_in(condition)
        for node in _conjuncts(condition):
            shape.predicates += _condition(node, scope)
            for sublink in _sublinks(node):
                _select(sublink, shape, tables, columns)
    for sort in sort_clause:
        col = scope.column(sort.node)
        if col is not None:
            shape.predicates.append(Predicate(col[0], col[1], "sort",
                                              descending=sort.sortby_dir == SortByDir.SORTBY_DESC))
    for item in group_clause:
        col = scope.column(item)
        if col is not None:
            shape.predicates.append(Predicate(col[0], col[1], "group"))
    _Columns(scope, stmt, shape.referenced)(stmt)


def _clauses(stmt: Any, scope: _Scope, shape: Shape) -> tuple[list[Any], list[Any], Any, Any] | None:
    """A SELECT's, UPDATE's or DELETE's sub-selects in FROM, conditions, ORDER BY and GROUP BY (the
    relations read are added to ``scope``; LIMIT and OFFSET parameters noted in ``shape``)."""
    if isinstance(stmt, ast.SelectStmt):
        subs = scope.add_from(stmt.fromClause)
        if stmt.limitCount is not None and shape.limit_param is None:
            shape.limit_param = _param(stmt.limitCount)
        if stmt.limitOffset is not None and shape.offset_param is None:
            shape.offset_param = _param(stmt.limitOffset)
        return subs, [stmt.whereClause, *scope.quals], stmt.sortClause or (), stmt.groupClause or ()
    if isinstance(stmt, (ast.UpdateStmt, ast.DeleteStmt)):
        subs = scope.add_from([stmt.relation])
        subs += scope.add_from(getattr(stmt, "fromClause", None) or getattr(stmt, "usingClause", None))
        return subs, [stmt.whereClause, *scope.quals], (), ()
    return None


def _sublinks(node: Any) -> list[Any]:
    """Sub-selects of EXISTS / IN (SELECT …) / scalar sub-queries in one condition."""
    found: list[Any] = []
    if node is None:
        return found

    class _Links(Visitor):
        def visit_SubLink(self, ancestors: Any, link: Any) -> Any:
            found.append(link.subselect)
            return Skip

    _Links()(node)
    return found


def analyse(sql: str, tables: dict[str, Table], columns: dict[Table, set[str]] | None = None) -> Shape:
    """The shape of one statement. ``tables`` resolves unqualified table names
    (``{"agents": ("public", "agents")}``); tables it does not know are skipped. ``columns`` (the
    columns of each table) resolves unqualified column names in joins."""
    shape = Shape()
    try:
        stmts = parse_sql(sql)
    except ParseError:
        return shape
    for raw in stmts:
        shape.params |= _params_in(raw.stmt)
        _select(raw.stmt, shape, tables, columns or {})
        _writes(raw.stmt, shape, tables)
    shape.rows_match = len(stmts) == 1 and _rows_match(stmts[0].stmt) and len(shape.tables) == 1
    return shape


def _writes(stmt: Any, shape: Shape, tables: dict[str, Table]) -> None:
    """The table an INSERT or UPDATE writes (for an UPDATE, the columns it sets)."""
    if not isinstance(stmt, (ast.InsertStmt, ast.UpdateStmt)) or stmt.relation is None:
        return
    relation = stmt.relation
    target = (str(relation.schemaname), str(relation.relname)) if relation.schemaname \
        else tables.get(str(relation.relname))
    if target is None:
        return
    if isinstance(stmt, ast.InsertStmt):
        shape.writes[target] = None
        return
    sets = frozenset(str(t.name) for t in stmt.targetList or () if isinstance(t, ast.ResTarget) and t.name)
    before = shape.writes.get(target, frozenset())
    shape.writes[target] = None if before is None else before | sets


AGGREGATES = frozenset({"count", "sum", "avg", "min", "max", "array_agg", "string_agg", "json_agg", "jsonb_agg",
                        "bool_and", "bool_or", "every", "stddev", "variance"})


class _Aggregates(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def visit_FuncCall(self, ancestors: Any, node: Any) -> None:
        if node.funcname and node.funcname[-1].sval in AGGREGATES or node.over is not None:
            self.found = True


def _rows_match(stmt: Any) -> bool:
    if not isinstance(stmt, ast.SelectStmt) or stmt.op or stmt.withClause or stmt.groupClause \
            or stmt.distinctClause or stmt.limitCount is not None or stmt.havingClause is not None:
        return False
    sources = stmt.fromClause or ()
    if len(sources) != 1 or not isinstance(sources[0], ast.RangeVar):
        return False
    visitor = _Aggregates()
    visitor(stmt.targetList or ())
    return not visitor.found and not _sublinks(stmt.whereClause)


def predicates(sql: str, tables: dict[str, Table], columns: dict[Table, set[str]] | None = None) -> list[Predicate]:
    """What one statement filters, sorts and groups on, per table."""
    return analyse(sql, tables, columns).predicates
