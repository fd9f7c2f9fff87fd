"""SQL fragments from the spec, parsed and re-printed with pglast.

Nothing the user writes as SQL text (an index expression, a predicate, a column in the string
shorthand) reaches a statement as typed: it is parsed by PostgreSQL's own parser (pglast), checked
to be exactly one expression of the allowed kind, and printed again from the parse tree.

>>> expression("status = 'active'")
"status = 'active'"
>>> index_element("last_active DESC NULLS LAST").descending
True
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from pglast import ast, parse_sql, visitors
from pglast.enums import SortByDir, SortByNulls
from pglast.parser import ParseError
from pglast.stream import RawStream


class SqlTextError(ValueError):
    """The text is not exactly one SQL fragment of the kind asked for."""


class _Forbidden(visitors.Visitor):
    """Collects node kinds that may not appear in an index expression or predicate."""

    forbidden = {
        "SubLink": "a sub-select is not allowed here",
        "ParamRef": "parameters ($1) are not allowed here",
        "MultiAssignRef": "not an expression",
    }

    def __init__(self) -> None:
        self.found: list[str] = []

    def visit(self, ancestors, node):  # noqa: D102 - visitor protocol
        reason = self.forbidden.get(type(node).__name__)
        if reason:
            self.found.append(reason)


def _parse(sql: str, what: str) -> list:
    try:
        return list(parse_sql(sql))
    except ParseError as exc:
        raise SqlTextError(f"not a valid {what}: {exc.args[0]}") from None


def _print(node) -> str:
    return RawStream()(node)


def _check_allowed(node, what: str) -> None:
    visitor = _Forbidden()
    visitor(node)
    if visitor.found:
        raise SqlTextError(f"{visitor.found[0]} in {what}")


@lru_cache(maxsize=8192)
def expression(text: str, what: str = "expression") -> str:
    """Parse ``text`` as exactly one SQL value expression and return it re-printed.

    Raises :class:`SqlTextError` for a second statement, a ``;``, a sub-select, or anything that
    is not a single expression.
    """
    if not isinstance(text, str) or not text.strip():
        raise SqlTextError(f"{what} is empty")
    if ";" in _strip_literals(text):
        raise SqlTextError(f"{what} must be one expression; ';' is not allowed")
    stmts = _parse(f"SELECT (\n{text}\n)", what)
    if len(stmts) != 1 or not isinstance(stmts[0].stmt, ast.SelectStmt):
        raise SqlTextError(f"{what} must be exactly one expression")
    select = stmts[0].stmt
    extra = [
        name
        for name in ("fromClause", "whereClause", "groupClause", "havingClause", "windowClause",
                     "sortClause", "limitCount", "limitOffset", "distinctClause", "valuesLists",
                     "withClause", "lockingClause", "intoClause")
        if getattr(select, name, None)
    ]
    if extra or len(select.targetList or ()) != 1:
        raise SqlTextError(f"{what} must be exactly one expression")
    node = select.targetList[0].val
    _check_allowed(node, what)
    return _print(node)


def _strip_literals(text: str) -> str:
    """``text`` without the contents of quoted strings and identifiers (to look for ``;``)."""
    out, quote = [], None
    for ch in text:
        if quote:
            if ch == quote:
                quote = None
            continue
        if ch in ("'", '"'):
            quote = ch
            continue
        out.append(ch)
    return "".join(out)


@lru_cache(maxsize=8192)
def column_name(text: str) -> str:
    """Parse ``text`` as one column name in SQL syntax (unquoted names fold to lower case)."""
    element = index_element(text)
    if element.column is None or element.collation or element.opclass or \
            element.descending is not None or element.nulls_first is not None:
        raise SqlTextError(f"not a plain column name: {text!r}")
    return element.column


@dataclass(frozen=True)
class IndexElement:
    """One key of an index as written in SQL: a column or an expression with its options."""

    column: str | None
    expression: str | None
    collation: tuple[str, ...] | None
    opclass: tuple[str, ...] | None
    descending: bool | None
    nulls_first: bool | None


@lru_cache(maxsize=8192)
def index_element(text: str) -> IndexElement:
    """Parse one index key in SQL syntax, e.g. ``"last_active DESC NULLS LAST"`` or
    ``"lower(name) gin_trgm_ops"``; the result names a column or holds a re-printed expression."""
    if not isinstance(text, str) or not text.strip():
        raise SqlTextError("index column is empty")
    stmts = _parse(f"CREATE INDEX pgrecon_probe ON pgrecon_probe (\n{text}\n)", "index column")
    if len(stmts) != 1 or not isinstance(stmts[0].stmt, ast.IndexStmt):
        raise SqlTextError("index column must be exactly one column or expression")
    stmt = stmts[0].stmt
    if stmt.whereClause or stmt.indexIncludingParams or stmt.options or stmt.tableSpace:
        raise SqlTextError("index column must be exactly one column or expression")
    if len(stmt.indexParams) != 1:
        raise SqlTextError(f"one column per entry; got {len(stmt.indexParams)} in {text!r}")
    elem: ast.IndexElem = stmt.indexParams[0]
    expr = None
    if elem.expr is not None:
        _check_allowed(elem.expr, "index expression")
        expr = _print(elem.expr)
    ordering = {SortByDir.SORTBY_ASC: False, SortByDir.SORTBY_DESC: True}.get(elem.ordering)
    nulls = {SortByNulls.SORTBY_NULLS_FIRST: True, SortByNulls.SORTBY_NULLS_LAST: False}.get(elem.nulls_ordering)
    if getattr(elem, "opclassopts", None):
        raise SqlTextError("operator class parameters are not supported")
    return IndexElement(
        column=elem.name,
        expression=expr,
        collation=tuple(s.sval for s in elem.collation) if elem.collation else None,
        opclass=tuple(s.sval for s in elem.opclass) if elem.opclass else None,
        descending=ordering,
        nulls_first=nulls,
    )
