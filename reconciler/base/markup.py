"""Rich-style markup in text output, without importing rich where it is not shown.

Text templates mark up with rich's tags (``[bold]…[/]``); user text goes through :func:`escape`,
which escapes every ``[``. On a terminal rich renders the markup (colors); anywhere else
:func:`plain` drops the tags — the same text rich would print without colors, at no import cost.

>>> plain("[bold]index create[/] " + escape("t[1]"))
'index create t[1]'
"""

from __future__ import annotations

import re

_BRACKET = re.compile(r"(\\*)\[((?:/|/?[A-Za-z#@][^\[\]\n]*)\])?")
_OPEN = re.compile(r"(\\*)\[")


def escape(text: object) -> str:
    """``text`` with every ``[`` escaped (and the backslashes before it), so that rich shows it
    as written."""
    return _OPEN.sub(lambda m: m.group(1) * 2 + "\\[", str(text))


def plain(markup: str) -> str:
    """``markup`` as rich prints it without a terminal: tags dropped, escapes undone."""
    def one(match: re.Match[str]) -> str:
        slashes, tag = len(match.group(1)), match.group(2)
        literal = "\\" * (slashes // 2)
        if slashes % 2 or tag is None:   # an escaped "[" (or one that opens no tag): printed as is
            return literal + "[" + (tag or "")
        return literal                  # a tag: dropped
    return _BRACKET.sub(one, markup)


_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def controls_escaped(text: str) -> str:
    """``text`` with control characters other than line breaks and tabs written as escapes
    (``\\x1b``): names and messages from the database cannot move the cursor, clear a terminal or
    hide a line.

    >>> controls_escaped("t\\x1b[2Jx")
    't\\\\x1b[2Jx'
    """
    return _CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                         else f"\\u{ord(m.group()):04x}", text)
