"""Is a declared index a live one? Decided from the live definition alone, without the server.

PostgreSQL rewrites what people write, and :mod:`.canonical` asks the server for the canonical
form of a declared index with DDL on a temporary table. Most of the time the answer can be read
off the live index instead: the server prints each stored expression so that it parses back to
the same tree (that is what ``pg_dump`` relies on), so a declared expression whose parse tree is
the live expression's tree is the live expression. Before comparing, the declared tree gets the
few rewrites the server is known to make:

* ``x IN (a, b)`` becomes ``x = ANY (ARRAY[a, b])`` (``NOT IN``: ``<> ALL``);
* a quoted literal compared with a ``text`` value (a text column, ``->>`` of a json column) gets
  its ``::text`` cast, and so does the key of ``json -> 'k'`` / ``json ->> 'k'``.

:func:`matches` may say "different" where the server would say "equal" (the server then
decides), never the reverse: parentheses, spacing and case of keywords never matter, but any
other spelling difference does.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pglast import ast, parse_sql
from pglast.enums import A_Expr_Kind
from pglast.parser import ParseError

from reconciler.base import sqltext
from reconciler.catalog.models import IndexDefinition, IndexKey, LiveTable, normalize_storage
from reconciler.resources.indexes.spec import IndexColumn, IndexSpec

_COMPARISONS = frozenset({"=", "<>", "<", ">", "<=", ">="})
_JSON_KEY_OPS = frozenset({"->", "->>"})
_JSON_TYPES = frozenset({"json", "jsonb"})


def matches(index: IndexSpec, table: LiveTable, live: IndexDefinition) -> bool:
    """True only when ``index`` declared on ``table`` is certainly the index ``live``."""
    if (index.using != live.method or index.unique != live.unique
            or index.nulls_not_distinct != live.nulls_not_distinct
            or len(index.columns) != len(live.keys)
            or tuple(c.column for c in index.include) != live.include
            or normalize_storage([f"{k}={v}" for k, v in index.with_.items()]) != live.storage
            or (index.where is None) != (live.predicate is None)):
        return False
    types = table.column_types
    if not all(_key_matches(col, key, table, types) for col, key in zip(index.columns, live.keys, strict=True)):
        return False
    return index.where is None or _same(index.where, live.predicate, types)


def _key_matches(col: IndexColumn, key: IndexKey, table: LiveTable,
                 types: tuple[tuple[str, str], ...]) -> bool:
    if (col.descending != key.descending or col.nulls_first != key.nulls_first or col.opclass != key.opclass
            or normalize_storage([f"{k}={v}" for k, v in col.opclass_params.items()]) != key.opclass_params):
        return False
    if col.column is not None:
        if key.column != col.column or key.expression is not None:
            return False
        if col.collation is None or key.collation == col.collation:
            return key.collation is None or key.collation == col.collation
        column = table.column(col.column)
        return key.collation is None and column is not None and column.collation == col.collation
    if key.expression is None or not _same(col.expression, key.expression, types):
        return False
    if col.collation is not None:
        return key.collation == col.collation
    # No collation declared: the key takes the expression's own. When every column it reads has
    # the default collation (or none), that is "default" for a collatable result, none otherwise.
    referenced = referenced_columns(col.expression)
    plain = all(c is not None and c.collation in (None, "default")
                for c in (table.column(name) for name in referenced))
    return plain and key.collation in (None, "default")


def same_expression(declared: str, live: str, column_types: dict[str, str]) -> bool:
    """``declared`` (spec SQL) is the stored expression that the server printed as ``live``."""
    return _same(declared, live, tuple(sorted(column_types.items())))


@lru_cache(maxsize=65536)
def _same(declared: str, live: str, column_types: tuple[tuple[str, str], ...]) -> bool:
    try:
        live_tree = _live_tree(live)
    except ParseError:  # a text pglast cannot parse is left to the server
        return False
    return bool(_normalized(declared, column_types) == live_tree)


def _select_value(sql: str) -> ast.Node:
    """The one target of ``SELECT (…)``."""
    stmt: Any = parse_sql(sql)[0].stmt
    value: ast.Node = stmt.targetList[0].val
    return value


@lru_cache(maxsize=16384)
def _live_tree(text: str) -> ast.Node:
    return _select_value(f"SELECT (\n{text}\n)")


@lru_cache(maxsize=16384)
def _normalized(text: str, column_types: tuple[tuple[str, str], ...]) -> ast.Node:
    rewritten: ast.Node = _Rewrite(dict(column_types))(sqltext.parse_expression(text))
    return rewritten


@lru_cache(maxsize=16384)
def referenced_columns(expression: str) -> frozenset[str]:
    """The columns an expression reads (by name)."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, (list, tuple)):
            for item in value:
                walk(item)
        elif isinstance(value, ast.Node):
            if isinstance(value, ast.ColumnRef):
                fields = value.fields or ()
                if len(fields) == 1 and isinstance(fields[0], ast.String) and fields[0].sval:
                    found.add(fields[0].sval)
            for attr in value:
                walk(getattr(value, attr))

    walk(sqltext.parse_expression(expression))
    return frozenset(found)


_TEXT_CAST: Any = _select_value("SELECT ''::text")


def _cast_text(node: Any) -> Any:
    """``'lit'`` -> ``'lit'::text`` (other nodes unchanged)."""
    if isinstance(node, ast.A_Const) and isinstance(node.val, ast.String):
        return ast.TypeCast(arg=node, typeName=_TEXT_CAST.typeName)
    if isinstance(node, ast.A_ArrayExpr):
        return ast.A_ArrayExpr(elements=tuple(_cast_text(e) for e in node.elements or ()))
    return node


class _Rewrite:
    """The server's known rewrites, applied to a copy of a declared expression's tree."""

    def __init__(self, column_types: dict[str, str]):
        self.types = column_types

    def __call__(self, node: Any) -> Any:
        if isinstance(node, (list, tuple)):
            return tuple(self(item) for item in node)
        if not isinstance(node, ast.Node):
            return node
        node = type(node)(**{attr: self(getattr(node, attr)) for attr in node})
        if isinstance(node, ast.A_Expr):
            return self._expr(node)
        return node

    def _column_type(self, node: Any) -> str | None:
        fields = node.fields or () if isinstance(node, ast.ColumnRef) else ()
        if len(fields) == 1 and isinstance(fields[0], ast.String) and fields[0].sval:
            return self.types.get(fields[0].sval)
        return None

    def _is_text(self, node: Any) -> bool:
        if self._column_type(node) == "text":
            return True
        if isinstance(node, ast.TypeCast) and node.typeName == _TEXT_CAST.typeName:
            return True
        return (isinstance(node, ast.A_Expr) and node.kind == A_Expr_Kind.AEXPR_OP and _op(node) == "->>"
                and self._column_type(node.lexpr) in _JSON_TYPES)

    def _expr(self, node: ast.A_Expr) -> ast.A_Expr:
        op = _op(node)
        if node.kind == A_Expr_Kind.AEXPR_IN and op in ("=", "<>"):
            kind = A_Expr_Kind.AEXPR_OP_ANY if op == "=" else A_Expr_Kind.AEXPR_OP_ALL
            node = ast.A_Expr(kind=kind, name=node.name, lexpr=node.lexpr,
                              rexpr=ast.A_ArrayExpr(elements=tuple(node.rexpr or ())))
        if node.kind in (A_Expr_Kind.AEXPR_OP_ANY, A_Expr_Kind.AEXPR_OP_ALL) and op in _COMPARISONS:
            if self._is_text(node.lexpr) and isinstance(node.rexpr, ast.A_ArrayExpr):
                node = ast.A_Expr(kind=node.kind, name=node.name, lexpr=node.lexpr, rexpr=_cast_text(node.rexpr))
        elif node.kind == A_Expr_Kind.AEXPR_OP and op in _COMPARISONS:
            if self._is_text(node.lexpr):
                node = ast.A_Expr(kind=node.kind, name=node.name, lexpr=node.lexpr, rexpr=_cast_text(node.rexpr))
            elif self._is_text(node.rexpr):
                node = ast.A_Expr(kind=node.kind, name=node.name, lexpr=_cast_text(node.lexpr), rexpr=node.rexpr)
        elif node.kind == A_Expr_Kind.AEXPR_OP and op in _JSON_KEY_OPS \
                and self._column_type(node.lexpr) in _JSON_TYPES:
            node = ast.A_Expr(kind=node.kind, name=node.name, lexpr=node.lexpr, rexpr=_cast_text(node.rexpr))
        return node


def _op(node: ast.A_Expr) -> str | None:
    names = node.name or ()
    return names[-1].sval if len(names) == 1 and isinstance(names[-1], ast.String) else None
