"""What every diff returns: typed actions, notes and located problems (pure data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from reconciler.base.kinds import Note, SpecPath, SpecProblem

__all__ = ["Diff", "SpecPath", "SpecProblem"]

A = TypeVar("A")


@dataclass
class Diff(Generic[A]):
    """What a resource's diff found: actions to take, notes to tell, problems that stop the plan.
    A kind whose diff another needs subclasses it with what that one reads (the settings'
    declared values, for PgBouncer's pool checks)."""

    actions: list[A] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    problems: list[SpecProblem] = field(default_factory=list)
