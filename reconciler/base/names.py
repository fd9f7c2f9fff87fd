"""PostgreSQL's limit on names, in one place: an identifier keeps at most 63 *bytes*
(NAMEDATALEN - 1); a longer one is truncated by the server, so it would never match.

>>> fits("é" * 31), fits("é" * 32)
(True, False)
>>> fit("é" * 40, "_x")[-2:], len(fit("é" * 40, "_x").encode()) <= MAX_NAME_BYTES
('_x', True)
"""

from __future__ import annotations

import hashlib

MAX_NAME_BYTES = 63


def name_bytes(name: str) -> int:
    """How many bytes ``name`` takes in the server (UTF-8)."""
    return len(name.encode())


def fits(name: str) -> bool:
    """Whether the server keeps ``name`` whole."""
    return name_bytes(name) <= MAX_NAME_BYTES


def fit(name: str, tag: str = "") -> str:
    """``name`` cut (on a character boundary) so that ``name + tag`` fits, ``tag`` kept whole."""
    room = MAX_NAME_BYTES - name_bytes(tag)
    return name.encode()[:room].decode(errors="ignore") + tag


def fit_unique(name: str) -> str:
    """``name`` if it fits, else cut with a short hash of the whole name appended, so that two
    long names that share a beginning stay distinct."""
    if fits(name):
        return name
    return fit(name, "_" + hashlib.sha1(name.encode()).hexdigest()[:8])
