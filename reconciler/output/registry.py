"""The registry of output renderers: ``(command, format) -> function``.

Each command's formats are declared here (the first is the default), with the module of this
package that renders them; that module is imported only when the command's output is rendered,
so a command pays only for its own output. The modules register their functions with
:func:`renderer`, which refuses a format the table does not declare and a second renderer.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from reconciler.base.errors import PgreconError

Renderer = Callable[..., str]

FORMATS: dict[str, tuple[str, tuple[str, ...]]] = {   # command -> (module, formats)
    "plan": ("plans", ("text", "json", "markdown", "sql")),
    "check": ("plans", ("text", "json", "markdown")),
    "apply": ("plans", ("text", "json")),
    "fleet": ("fleets", ("text", "json", "markdown")),
    "advise": ("reports", ("text", "json", "markdown", "html")),
    "review": ("reports", ("text", "json", "markdown", "html")),
    "maintain": ("reports", ("text", "json")),
    "maintain-action": ("reports", ("text",)),
    "history": ("reports", ("text", "json")),
    "bench": ("reports", ("text", "json")),
    "validate": ("reports", ("text", "json")),
    "render": ("reports", ("text", "json")),
    "inspect": ("reports", ("yaml", "json", "text")),
    "schema": ("reports", ("json",)),
    "grants": ("reports", ("sql",)),
}
_RENDERERS: dict[tuple[str, str], Renderer] = {}


def renderer(command: str, *fmts: str) -> Callable[[Renderer], Renderer]:
    """Register ``fn`` as the renderer of ``command``'s result in each of ``fmts`` (once each)."""
    def register(fn: Renderer) -> Renderer:
        for fmt in fmts:
            if fmt not in formats(command):
                raise RuntimeError(f"{command} does not declare --format {fmt} (registry.FORMATS)")
            if (command, fmt) in _RENDERERS:
                raise RuntimeError(f"two renderers for {command} --format {fmt}")
            _RENDERERS[(command, fmt)] = fn
        return fn
    return register


def formats(command: str) -> tuple[str, ...]:
    """The formats ``command`` declares, the default first."""
    return FORMATS[command][1] if command in FORMATS else ()


def check_format(command: str, fmt: str) -> str:
    """``fmt`` if ``command`` declares it; else a :class:`PgreconError` (exit 1) listing them."""
    if fmt not in formats(command):
        raise PgreconError(f"{command} --format must be one of {', '.join(formats(command))}, not {fmt!r}")
    return fmt


def render_result(command: str, fmt: str, result: Any, **context: Any) -> str:
    """``result`` of ``command`` as text in ``fmt``."""
    check_format(command, fmt)
    if (command, fmt) not in _RENDERERS:
        importlib.import_module(f"{__package__}.{FORMATS[command][0]}")
    return _RENDERERS[(command, fmt)](result, fmt=fmt, **context)
