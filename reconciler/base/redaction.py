"""Secrets never reach output: one redaction for every message, every format and every fleet row.

Every secret pgrecon handles is remembered here when it comes in — a ``${ENV}`` value expanded
from a spec or a fleet file, a ``--dsn`` flag, ``PGPASSWORD`` — and :func:`redact` replaces each
remembered value, and anything shaped like a password in a connection string, with ``***``.
The CLI's error messages, every rendered output (text, JSON, Markdown, HTML, SQL, YAML) and each
fleet row pass through :func:`redact` once, at the edge.

A connection string that does not parse is never quoted: libpq's parser names the token it
stopped at, which may be the password (``invalid percent-encoded token: "50%off"``).

>>> remember("S3cret")
>>> redact("password=S3cret host=db; also S3cret")
'password=*** host=db; also ***'
"""

from __future__ import annotations

import os
import re
import threading
from urllib.parse import unquote

_KNOWN: set[str] = set()
_LOCK = threading.Lock()
MIN_SECRET_CHARS = 3  # shorter values are not replaced: they would blank ordinary words

_DSN_PATTERNS = (
    # key=value: a quoted value (backslash escapes) or up to the next blank
    re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE),
    # a URI's userinfo: scheme://user:password@
    re.compile(r"([a-z][a-z0-9+.-]*://[^:/@\s]*:)([^@\s]*)(@)", re.IGNORECASE),
)


def remember(*values: str | None) -> None:
    """Remember secret ``values``: :func:`redact` replaces them from now on."""
    with _LOCK:
        for value in values:
            if value and len(value) >= MIN_SECRET_CHARS:
                _KNOWN.add(value)
                decoded = unquote(value)
                if decoded != value and len(decoded) >= MIN_SECRET_CHARS:
                    _KNOWN.add(decoded)


def remember_dsn(dsn: str | None) -> None:
    """Remember the password in ``dsn`` (key=value or URI form), parsed or not."""
    if not dsn:
        return
    for pattern in _DSN_PATTERNS:
        for match in pattern.finditer(dsn):
            value = match.group(2)
            if value.startswith("'") and value.endswith("'") and len(value) >= 2:
                value = value[1:-1].replace("\\'", "'").replace("\\\\", "\\")
            remember(value)


def remember_secret(value: str | None) -> None:
    """Remember a secret expanded from the environment: the value, and the password in it when it
    is a connection string."""
    remember(value)
    remember_dsn(value)


def remember_environment() -> None:
    """Remember what libpq may read from the environment (``PGPASSWORD``)."""
    remember(os.environ.get("PGPASSWORD"))


def _mask(match: re.Match[str]) -> str:
    return match.group(1) + "***" + (match.group(3) if match.re.groups >= 3 else "")


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` with every remembered secret, any of ``secrets``, and passwords in connection
    strings replaced by ``***``."""
    if not text:
        return text
    for pattern in _DSN_PATTERNS:
        text = pattern.sub(_mask, text)
    with _LOCK:
        known = sorted(_KNOWN | {s for s in secrets if s and len(s) >= MIN_SECRET_CHARS}, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, "***")
    return text


def forget_all() -> None:
    """Forget every remembered secret (tests)."""
    with _LOCK:
        _KNOWN.clear()
