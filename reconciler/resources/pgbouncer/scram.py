"""SCRAM-SHA-256 password verifiers (RFC 5802, RFC 7677), as PostgreSQL and PgBouncer store them.

    SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>   (base64 fields)

The password itself is never written anywhere. A verifier already on disk that matches the
current password is kept, so rendering twice gives the same file.

>>> v = verifier("secret", salt=b"0123456789abcdef")
>>> matches(v, "secret"), matches(v, "wrong")
(True, False)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re

ITERATIONS = 4096
_FORMAT = re.compile(r"^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$")


def _keys(password: str, salt: bytes, iterations: int) -> tuple[bytes, bytes]:
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    return stored_key, server_key


def verifier(password: str, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """A new verifier for ``password`` (random 16-byte salt unless given)."""
    salt = salt if salt is not None else os.urandom(16)
    stored, server = _keys(password, salt, iterations)
    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored)}:{b64(server)}"


def matches(existing: str, password: str) -> bool:
    """Whether the verifier ``existing`` was made from ``password``."""
    match = _FORMAT.match(existing or "")
    if not match:
        return False
    iterations, salt, stored, server = match.groups()
    want_stored, want_server = _keys(password, base64.b64decode(salt), int(iterations))
    return hmac.compare_digest(base64.b64decode(stored), want_stored) and \
        hmac.compare_digest(base64.b64decode(server), want_server)
