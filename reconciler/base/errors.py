"""Errors meant for people: what is wrong, where, and what to do.

Every error pgrecon raises on purpose is a :class:`PgreconError`. The CLI prints its message
(never a traceback) and exits with its ``exit_code`` (1 unless said otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass


class PgreconError(Exception):
    """An error with a message fit for the terminal; the CLI exits with ``exit_code``."""

    exit_code = 1

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Problem:
    """One located problem in a spec: ``file:line: path: message``."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class SpecError(PgreconError):
    """The spec is invalid; carries every problem found, each with its location."""

    def __init__(self, problems: list[Problem], what: str = "the spec"):
        self.problems = sorted(problems, key=lambda p: (p.file, p.line or 0, p.path))
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in {what}:"
        super().__init__("\n".join([head, *(f"  {p}" for p in self.problems)]))


class ConnectionFailed(PgreconError):
    """The database could not be reached (the message never contains a password)."""


class Refused(PgreconError):
    """apply refused to start: hazards not allowed, stale saved plan, lock not obtained."""


class ApplyFailed(PgreconError):
    """A statement failed during apply; the message names the change and the statement."""
