"""A file rendered from the spec (postgresql.conf, pgbouncer.ini, userlist.txt): where it goes,
what it holds, and whether it is a secret. Each kind renders its own; ``pgrecon render`` writes
them all."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RenderedFile:
    path: Path            # relative to the output directory
    content: str
    secret: bool = False  # written 0600, never printed or compared

    @property
    def mode(self) -> int:
        return 0o600 if self.secret else 0o644
