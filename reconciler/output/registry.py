"""The registry of output renderers: ``(command, format) -> function``, filled by the modules of
this package with :func:`renderer`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import PgreconError

Renderer = Callable[..., str]
_RENDERERS: dict[tuple[str, str], Renderer] = {}
_FORMATS: dict[str, list[str]] = {}


def renderer(command: str, *fmts: str) -> Callable[[Renderer], Renderer]:
    """Register ``fn`` as the renderer of ``command``'s result in each of ``fmts`` (once each)."""
    def register(fn: Renderer) -> Renderer:
        for fmt in fmts:
            if (command, fmt) in _RENDERERS:
                raise RuntimeError(f"two renderers for {command} --format {fmt}")
            _RENDERERS[(command, fmt)] = fn
            _FORMATS.setdefault(command, []).append(fmt)
        return fn
    return register


def formats(command: str) -> tuple[str, ...]:
    """The formats ``command`` declares, the default first."""
    return tuple(_FORMATS.get(command, ()))


def check_format(command: str, fmt: str) -> str:
    """``fmt`` if ``command`` declares it; else a :class:`PgreconError` (exit 1) listing them."""
    if (command, fmt) not in _RENDERERS:
        raise PgreconError(f"{command} --format must be one of {', '.join(formats(command))}, not {fmt!r}")
    return fmt


def render_result(command: str, fmt: str, result: Any, **context: Any) -> str:
    """``result`` of ``command`` as text in ``fmt``."""
    return _RENDERERS[(command, check_format(command, fmt))](result, fmt=fmt, **context)


