"""What every diff returns: typed actions, notes and located problems (pure data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ..kinds import Note

SpecPath = tuple[Any, ...]
Problem = tuple[SpecPath, str]
"""A problem that stops the plan: the spec path it is about, and the message."""

A = TypeVar("A")


@dataclass
class Diff(Generic[A]):
    """What a resource's diff found: actions to take, notes to tell, problems that stop the plan.
    ``extra`` carries what a later resource may read (e.g. the settings' desired values)."""

    actions: list[A] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
