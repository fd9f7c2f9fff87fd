"""Every file pgrecon writes is written whole or not at all.

:func:`write_atomic` writes to a new temporary file in the target's directory (an unpredictable
name, created exclusively, with its final mode from the start), flushes it to disk and renames it
over the target: a reader sees the old file or the new one, never a truncated one, and a failure
leaves the old file as it was. A symbolic link at the target is replaced, never written through.
Text from outside (the database, pg_stat_statements) that becomes a YAML comment goes through
:func:`comment_text` first.

>>> comment_text("t_a\\r  - {name: evil, unique: true}")
't_a\\\\r  - {name: evil, unique: true}'
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

MAX_READ_BYTES = 64 * 1024 * 1024  # a plan file or spec larger than this is refused, not read


def write_atomic(path: str | os.PathLike[str], content: str | bytes, mode: int | None = None) -> Path:
    """Replace ``path`` with ``content`` atomically. ``mode``: the file's permissions (default:
    the existing regular file's, else 0644 less the umask); its owner is kept where we may."""
    target = Path(os.path.abspath(path))
    existing = None
    with contextlib.suppress(FileNotFoundError):
        existing = os.lstat(target)
    is_regular = existing is not None and (existing.st_mode & 0o170000) == 0o100000
    if mode is None:
        if is_regular and existing is not None:
            mode = existing.st_mode & 0o777
        else:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o644 & ~umask
    data = content.encode() if isinstance(content, str) else content
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".pgrecon-tmp", dir=target.parent)
    try:
        os.fchmod(fd, mode)
        if is_regular and existing is not None:
            with contextlib.suppress(PermissionError):
                os.fchown(fd, existing.st_uid, existing.st_gid)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _sync_directory(target.parent)
    return target


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable (where the platform allows opening a directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def read_bounded(path: str | os.PathLike[str], limit: int = MAX_READ_BYTES) -> bytes:
    """The bytes of ``path``; ``ValueError`` when it holds more than ``limit``."""
    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"larger than {limit // (1024 * 1024)} MB")
    return data


def comment_text(text: object) -> str:
    """``text`` safe inside a one-line YAML (or SQL, or ini) comment: line breaks, other control
    characters and Unicode line separators are written as escapes (``\\r``, ``\\x1b``, ``\\u2028``)."""
    out = []
    for ch in str(text):
        code = ord(ch)
        if ch == "\\" or not (code < 32 or code == 127 or 0x80 <= code < 0xA0 or code in (0x2028, 0x2029, 0x85)):
            out.append(ch)
            continue
        escaped = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(ch)
        out.append(escaped or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"))
    return "".join(out)
