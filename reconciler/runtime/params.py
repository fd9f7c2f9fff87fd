"""Statements written with ``:name`` parameters, as SQLAlchemy's ``text()`` writes them.

``SELECT * FROM agents WHERE template = :template`` with ``{"template": "explorer"}`` is sent as
``… WHERE template = %(template)s``. The text is read with PostgreSQL's own scanner (pglast), so a
``:name`` inside a string literal, a comment or a quoted identifier stays as written, ``::`` casts
are never parameters, a colon right after a word is not one (``a[1:n]`` stays an array slice, as
in SQLAlchemy), and only names given in the parameters are replaced. ``%`` is doubled, as psycopg's format requires.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from pglast import parser

_COLON = "ASCII_58"


def _text_of(query: Any) -> str | None:
    if isinstance(query, str):
        return query
    text = getattr(query, "text", None)   # a SQLAlchemy TextClause
    return text if isinstance(text, str) else None


@lru_cache(maxsize=512)
def _converted(text: str, names: frozenset[str]) -> str:
    tokens = parser.scan(text)
    places: list[tuple[int, int, str]] = []
    for colon, name in zip(tokens, tokens[1:], strict=False):
        after_word = colon.start > 0 and (text[colon.start - 1].isalnum() or text[colon.start - 1] in "_:")
        if colon.name == _COLON and name.start == colon.end + 1 and not after_word:
            word = text[name.start:name.end + 1]
            if word in names:
                places.append((colon.start, name.end + 1, word))
    if not places:
        return text
    out, at = [], 0
    for start, end, word in places:
        out.append(text[at:start].replace("%", "%%"))
        out.append(f"%({word})s")
        at = end
    out.append(text[at:].replace("%", "%%"))
    return "".join(out)


def statement(query: Any, params: Any) -> Any:
    """``query`` as psycopg takes it: ``:name`` parameters (when ``params`` is a mapping that
    names them) become ``%(name)s``; a SQLAlchemy ``text()`` becomes its string; anything else is
    returned as given."""
    text = _text_of(query)
    if text is None:
        return query
    if isinstance(params, Mapping) and params and ":" in text:
        return _converted(text, frozenset(str(k) for k in params))
    return text
