"""The render stage: one Jinja environment for every statement and file pgrecon writes.

Identifiers reach text only through :func:`quote_ident` (the ``ident`` filter), values through
``literal`` (psycopg's quoting), and SQL expressions through ``expr`` (proven to be exactly one
expression by PostgreSQL's parser, then used as written: see :mod:`reconciler.base.sqltext`).
Templates live in ``templates/`` at the top of the repository (``reconciler/templates``
in an installed wheel).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from pglast import keywords
from pglast.keywords import UNRESERVED_KEYWORDS

from reconciler.base import markup, sqltext

_PLAIN = re.compile(r"[a-z_][a-z0-9_$]*")


def template_dir() -> Path:
    """Where the templates are: inside the installed package, else the checkout's ``templates/``."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "templates", here.parent / "templates"):
        if (candidate / "sql").is_dir() and (candidate / "indexes").is_dir():
            return candidate
    raise FileNotFoundError(f"pgrecon templates not found next to {here}")


def quote_ident(name: str | tuple[Any, ...] | list[Any]) -> str:
    """Quote an identifier (or dotted parts) the way PostgreSQL's ``quote_ident`` does: bare
    when it is a plain lower-case name and not a keyword, double-quoted otherwise.

    >>> quote_ident(("public", "Agents"))
    'public."Agents"'
    """
    if isinstance(name, (tuple, list)):
        return ".".join(quote_ident(part) for part in name)
    if not isinstance(name, str) or not name:
        raise ValueError(f"not an identifier: {name!r}")
    if _PLAIN.fullmatch(name) and (name not in _KEYWORDS or name in UNRESERVED_KEYWORDS):
        return name
    from psycopg import sql  # psycopg's quoting; a command that renders no SQL does not load it
    return sql.Identifier(name).as_string(None)


def _all_keywords() -> frozenset[str]:
    return frozenset(keywords.RESERVED_KEYWORDS | keywords.COL_NAME_KEYWORDS
                     | keywords.TYPE_FUNC_NAME_KEYWORDS | keywords.UNRESERVED_KEYWORDS)


_KEYWORDS = _all_keywords()


def quote_literal(value: object) -> str:
    """A SQL literal for ``value`` (text, number, boolean), quoted by psycopg."""
    from psycopg import sql
    return sql.Literal(value).as_string(None).strip()


def sql_expression(text: str) -> str:
    """An SQL expression as one clean line, safe inside parentheses; refuses anything that is not
    exactly one expression."""
    return sqltext.expression(text)


def conf_value(value: object) -> str:
    """A postgresql.conf value: single-quoted, quotes doubled, backslashes escaped."""
    text = str(value)
    if any(ch in text for ch in "\n\r\x00"):
        raise ValueError("a configuration value cannot contain a line break")
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def connstr_value(value: object) -> str:
    """A value in a PgBouncer ``[databases]`` entry (quoted when it holds blanks)."""
    text = str(value)
    if any(ch in text for ch in "'\\\n\r\x00"):
        raise ValueError("quotes, backslashes and line breaks are not allowed in a [databases] value")
    return f"'{text}'" if any(ch.isspace() for ch in text) or text == "" else text


def _milliseconds(value: float | int | str) -> str:
    """``12.3ms`` below a second, ``1.52s`` above."""
    value = float(value)
    if value >= 1000:
        return f"{value / 1000:.2f}s"
    if value < 0.1:
        return f"{value * 1000:.1f}us"
    return f"{value:.2f}ms" if value < 10 else f"{value:.1f}ms"


def _one_line(text: object) -> str:
    """Text safe inside a one-line comment: no line breaks."""
    return " ".join(str(text).splitlines())




def _markdown_cell(text: object) -> str:
    return _one_line(text).replace("|", "\\|").replace("`", "'")


@cache
def environment() -> jinja2.Environment:
    """The one Jinja environment (strict undefined, no autoescape: the filters do the quoting)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["ident"] = quote_ident
    env.filters["literal"] = quote_literal
    env.filters["expr"] = sql_expression
    env.filters["esc"] = markup.escape
    env.filters["mdcell"] = _markdown_cell
    env.filters["sqlcomment"] = _one_line
    env.filters["conf"] = conf_value
    env.filters["connstr"] = connstr_value
    env.filters["ms"] = _milliseconds
    return env


def render(template: str, **context: Any) -> str:
    """Render ``templates/<template>`` with ``context``."""
    return environment().get_template(template).render(**context)


def render_statement(template: str, **context: Any) -> str:
    """Render one SQL statement from ``templates/<kind>/<name>.sql.j2`` (``"indexes/create_index"``;
    a bare name is in ``templates/sql/``), surrounding blanks removed; the template keeps the
    statement on one line."""
    path = f"{template}.sql.j2" if "/" in template else f"sql/{template}.sql.j2"
    return render(path, **context).strip()
