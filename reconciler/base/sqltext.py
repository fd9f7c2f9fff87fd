"""SQL fragments from the spec: checked with PostgreSQL's own parser, then used as written.

Nothing the user writes as SQL text (an index expression, a predicate, a column in the string
shorthand) reaches a statement unchecked: it is scanned and parsed by PostgreSQL's parser (pglast)
and must be exactly one expression of the allowed kind, with balanced parentheses and no ``;``.
What reaches the statement is then the user's own text, token for token, with comments removed
and the blanks between tokens folded to one space: ``created_at AT TIME ZONE 'utc'`` stays that,
and is not re-printed as ``timezone('utc', created_at)`` (PostgreSQL 17+ keeps the two apart).

>>> expression("status = 'active'  -- only the live ones")
"status = 'active'"
>>> expression("created_at AT TIME ZONE 'utc'")
"created_at AT TIME ZONE 'utc'"
>>> index_element("last_active DESC NULLS LAST").descending
True
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pglast import ast, parse_sql, visitors
from pglast.enums import SortByDir, SortByNulls
from pglast.parser import ParseError, scan


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

    def visit(self, ancestors: Any, node: ast.Node) -> None:
        reason = self.forbidden.get(type(node).__name__)
        if reason:
            self.found.append(reason)


_COMMENTS = frozenset({"SQL_COMMENT", "C_COMMENT"})
_OPEN = {"ASCII_40": "ASCII_41", "ASCII_91": "ASCII_93"}  # ( ) and [ ]
_CLOSE = frozenset(_OPEN.values())


@dataclass(frozen=True)
class _Token:
    start: int
    end: int  # exclusive
    name: str


def _tokens(text: str, what: str) -> list[_Token]:
    """The tokens of ``text`` without comments (character offsets, end exclusive)."""
    try:
        raw = scan(text)
    except ParseError as exc:
        raise SqlTextError(f"not a valid {what}: {exc.args[0]}") from None
    return [_Token(t.start, t.end + 1, t.name) for t in raw if t.name not in _COMMENTS]


def _clean(text: str, what: str) -> tuple[str, list[_Token]]:
    """``text`` as one line: tokens kept exactly, comments dropped, the blanks between two tokens
    folded to one space. Refuses ``;`` and unbalanced brackets. Returns the text and its tokens."""
    if not isinstance(text, str) or not text.strip():
        raise SqlTextError(f"{what} is empty")
    tokens = _tokens(text, what)
    if not tokens:
        raise SqlTextError(f"{what} is empty")
    stack: list[str] = []
    for token in tokens:
        if token.name == "ASCII_59":
            raise SqlTextError(f"{what} must be one expression; ';' is not allowed")
        if token.name in _OPEN:
            stack.append(_OPEN[token.name])
        elif token.name in _CLOSE and (not stack or stack.pop() != token.name):
            raise SqlTextError(f"{what} has unbalanced parentheses or brackets")
    if stack:
        raise SqlTextError(f"{what} has unbalanced parentheses or brackets")
    parts, out_tokens, previous_end, position = [], [], None, 0
    for token in tokens:
        if previous_end is not None and token.start > previous_end:
            parts.append(" ")
            position += 1
        piece = text[token.start:token.end]
        out_tokens.append(_Token(position, position + len(piece), token.name))
        parts.append(piece)
        position += len(piece)
        previous_end = token.end
    return "".join(parts), out_tokens


MAX_DEPTH = 100  # levels of a parse tree: far beyond any index expression, well within Python's stack


def _depth(node: Any, limit: int) -> int:
    """The depth of the parse tree below ``node`` (counting stops past ``limit``), walked without
    recursion: a deep tree is refused before anything recursive looks at it."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(node, 1)]
    while stack:
        current, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        if isinstance(current, (tuple, list)):
            stack.extend((child, depth) for child in current)
        elif isinstance(current, ast.Node):
            stack.extend((getattr(current, name), depth + 1) for name in getattr(current, "__slots__", ())
                         if isinstance(getattr(current, name), (ast.Node, tuple, list)))
    return deepest


def _parse(sql: str, what: str) -> list[ast.RawStmt]:
    try:
        statements = list(parse_sql(sql))
    except ParseError as exc:
        raise SqlTextError(f"not a valid {what}: {exc.args[0]}") from None
    except RecursionError:
        raise SqlTextError(f"{what} is nested too deeply") from None
    if _depth(statements, MAX_DEPTH) > MAX_DEPTH:
        raise SqlTextError(f"{what} is nested more than {MAX_DEPTH} levels deep (operators, calls and parentheses); "
                           f"write it more simply")
    return statements


def _check_allowed(node: ast.Node, what: str) -> None:
    visitor = _Forbidden()
    visitor(node)
    if visitor.found:
        raise SqlTextError(f"{visitor.found[0]} in {what}")


_SELECT_CLAUSES = ("fromClause", "whereClause", "groupClause", "havingClause", "windowClause", "sortClause",
                   "limitCount", "limitOffset", "distinctClause", "valuesLists", "withClause", "lockingClause",
                   "intoClause")


def _expression_node(text: str, what: str) -> ast.Node:
    """The parse tree of ``text`` (already cleaned) as exactly one value expression."""
    stmts = _parse(f"SELECT (\n{text}\n)", what)
    if len(stmts) != 1 or not isinstance(stmts[0].stmt, ast.SelectStmt):
        raise SqlTextError(f"{what} must be exactly one expression")
    select = stmts[0].stmt
    extra = [name for name in _SELECT_CLAUSES if getattr(select, name, None)]
    if extra or len(select.targetList or ()) != 1:
        raise SqlTextError(f"{what} must be exactly one expression")
    node: ast.Node = (select.targetList or ())[0].val
    _check_allowed(node, what)
    return node


@lru_cache(maxsize=8192)
def expression(text: str, what: str = "expression") -> str:
    """Check that ``text`` is exactly one SQL value expression; return it as one clean line.

    Raises :class:`SqlTextError` for a second statement, a ``;``, unbalanced parentheses, a
    sub-select, a parameter, or anything that is not a single expression. The text returned is
    the user's tokens unchanged (comments dropped, blanks folded), safe to put inside parentheses.
    """
    cleaned, _ = _clean(text, what)
    _expression_node(cleaned, what)
    return cleaned


def parse_expression(text: str) -> ast.Node:
    """The parse tree of an expression that :func:`expression` accepted (for comparisons)."""
    return _expression_node(expression(text), "expression")


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
    opclass_params: tuple[tuple[str, str], ...] = ()


def _option_value(node: Any) -> str:
    for attr in ("ival", "fval", "sval", "boolval", "bsval"):
        value = getattr(node, attr, None)
        if value is not None:
            if isinstance(value, bool):
                return "true" if value else "false"
            return str(value)
    if isinstance(node, ast.A_Const):
        return _option_value(node.val)
    if isinstance(node, ast.TypeName):
        return ".".join(s.sval for s in node.names or ())
    raise SqlTextError("an operator class parameter must be a number, a word or a quoted string")


def _matching(tokens: list[_Token], open_at: int) -> int:
    """The index of the bracket closing the one at ``open_at``."""
    depth = 0
    for i in range(open_at, len(tokens)):
        if tokens[i].name in _OPEN:
            depth += 1
        elif tokens[i].name in _CLOSE:
            depth -= 1
            if depth == 0:
                return i
    raise SqlTextError("unbalanced parentheses")  # pragma: no cover - _clean checked the balance


def _expression_text(cleaned: str, tokens: list[_Token], node: ast.Node) -> str:
    """The part of an index key that is its expression, as the user wrote it.

    In an index key an expression is either ``( expression )`` or a function call (SQL-syntax
    forms such as ``SUBSTRING(x FROM 1 FOR 2)`` included), followed by the key's options. The
    candidate text is proven by parsing it again: its tree must be the key's tree.
    """
    if tokens[0].name == "ASCII_40":
        end = _matching(tokens, 0)
        text = cleaned[tokens[1].start:tokens[end - 1].end] if end > 1 else ""
    else:
        first_open = next((i for i, t in enumerate(tokens) if t.name == "ASCII_40"), None)
        if first_open is None:
            raise SqlTextError("write the expression in parentheses, e.g. (a + b)")
        text = cleaned[:tokens[_matching(tokens, first_open)].end]
    try:
        same = _expression_node(text, "index expression") == node
    except SqlTextError:
        same = False
    if not same:
        raise SqlTextError("write the expression in parentheses, e.g. (a + b) DESC")
    return text


_ORDERING = {SortByDir.SORTBY_ASC: False, SortByDir.SORTBY_DESC: True}
_NULLS = {SortByNulls.SORTBY_NULLS_FIRST: True, SortByNulls.SORTBY_NULLS_LAST: False}


@lru_cache(maxsize=8192)
def index_element(text: str) -> IndexElement:
    """Parse one index key in SQL syntax, e.g. ``"last_active DESC NULLS LAST"`` or
    ``"lower(name) gin_trgm_ops"`` or ``"tsv tsvector_ops(siglen=32)"``; the result names a
    column, or holds the expression exactly as written (see :func:`expression`)."""
    cleaned, tokens = _clean(text, "index column")
    stmts = _parse(f"CREATE INDEX pgrecon_probe ON pgrecon_probe (\n{cleaned}\n)", "index column")
    if len(stmts) != 1 or not isinstance(stmts[0].stmt, ast.IndexStmt):
        raise SqlTextError("index column must be exactly one column or expression")
    stmt = stmts[0].stmt
    if stmt.whereClause or stmt.indexIncludingParams or stmt.options or stmt.tableSpace:
        raise SqlTextError("index column must be exactly one column or expression")
    params = stmt.indexParams or ()
    if len(params) != 1:
        raise SqlTextError(f"one column per entry; got {len(params)} in {text!r}")
    elem: ast.IndexElem = params[0]
    expr = None
    if elem.expr is not None:
        _check_allowed(elem.expr, "index expression")
        expr = _expression_text(cleaned, tokens, elem.expr)
    ordering = _ORDERING.get(elem.ordering) if elem.ordering is not None else None
    nulls = _NULLS.get(elem.nulls_ordering) if elem.nulls_ordering is not None else None
    params = tuple((d.defname, _option_value(d.arg)) for d in elem.opclassopts or ())
    return IndexElement(
        column=elem.name,
        expression=expr,
        collation=tuple(s.sval for s in elem.collation) if elem.collation else None,
        opclass=tuple(s.sval for s in elem.opclass) if elem.opclass else None,
        descending=ordering,
        nulls_first=nulls,
        opclass_params=params,
    )
